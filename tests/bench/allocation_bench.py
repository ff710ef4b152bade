"""Timing the cost allocation for 290 members × 1 000 pools with the real costs code.

Two figures: the split itself (costs.runs.split_pool, i.e. costs.allocation, over every
pool's inputs: what "allocation in under 1 s" is about), and a whole costs.runs.run on the
bench database (gather the inputs, count usage from the cases, split, store every share),
inside a transaction that is rolled back, so nothing stays behind.
"""

import statistics
import time
from datetime import date

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.costs import runs
from samverkan.tenancy.scoping import allow_all_tenants

KINDS = ["equal", "population", "usage", "hybrid", "percentages"]
PERIOD = str(date.today().year - 1)  # a whole year of seeded cases


def _percentages(members: int) -> list[str]:
    """Percentages that sum to exactly 100, as a hub would agree them."""
    each = round(100 / members, 2)
    return [f"{each:.2f}"] * (members - 1) + [f"{100 - each * (members - 1):.2f}"]


def synthetic_inputs(members: int, pools: int) -> list[dict]:
    """Inputs as runs.pool_inputs stores them, for `pools` pools of `members` members."""
    start, end = runs.period_bounds(PERIOD)
    percentages = _percentages(members)
    out = []
    for n in range(pools):
        kind = KINDS[n % len(KINDS)]
        out.append(
            {
                "pool_id": n + 1,
                "name": f"Pool {n + 1:04d}",
                "amount_ore": 100_000_00 + 7_919 * n,
                "key": {
                    "kind": kind,
                    "equal_percent": "30" if kind == "hybrid" else None,
                    "rest": ("usage" if n % 2 else "population") if kind == "hybrid" else None,
                    "population_year": 2023,
                    "service": None,
                    "pro_rata": n % 4 == 0,
                },
                "period": {"name": PERIOD, "start": start.isoformat(), "end": end.isoformat()},
                "participants": [
                    {
                        "tenant_id": m + 1,
                        "slug": f"m{m:03d}",
                        "name": f"Medlem {m:03d}",
                        "scb_code": f"{1000 + m}",
                        "population": 2_500 + (m * 7_919) % 97_000,
                        "population_year": 2023,
                        "usage": 100 + (m * 104_729) % 40_000,
                        "percentage": percentages[m],
                        "days": 365 - (m % 7) * 30 if n % 4 == 0 else 365,
                    }
                    for m in range(members)
                ],
            }
        )
    return out


def time_split(members: int, pools: int, repeats: int = 3) -> dict:
    inputs = synthetic_inputs(members, pools)
    times: list[float] = []
    while len(times) < repeats and sum(times) < 10:  # a slow split is timed once
        started = time.perf_counter()
        shares = [runs.split_pool(i) for i in inputs]
        times.append(time.perf_counter() - started)
        for pool, split in zip(inputs, shares, strict=True):
            assert sum(s.amount_ore for s in split) == pool["amount_ore"]
    return {"split_seconds": statistics.median(times), "split_all": times}


def time_run(bench_url: str, members: int, pools: int, app) -> dict:
    """A whole run on the database, rolled back afterwards."""
    url = sa.make_url(bench_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    with app.app_context(), engine.connect() as conn:
        outer = conn.begin()
        have = conn.scalar(sa.text("SELECT count(*) FROM tenants WHERE status = 'active'"))
        if have < members:
            conn.execute(
                sa.text(
                    "INSERT INTO tenants (slug, name, short_name, kind, is_hub, scb_code, "
                    "reference_prefix, default_language, population_count, population_year, "
                    "primary_colour, accent_colour, status, created_at, updated_at) "
                    "SELECT 'bench-alloc-' || g, 'Bench-kommun A' || g, 'Bench A' || g, "
                    "'municipality', false, (8000 + g)::text, "
                    "'Z' || chr(65 + g / 26) || chr(65 + g % 26), 'sv', 2500 + g * 300, 2023, "
                    "'#1f5c99', '#1f5c99', 'active', now(), now() "
                    "FROM generate_series(0, :more - 1) g"
                ),
                {"more": members - have},
            )
        conn.execute(
            sa.text(
                "INSERT INTO cost_pools (period, name, category, amount_ore, key_kind, "
                "key_settings, pro_rata, created_at, updated_at) "
                "SELECT :period, 'Bench-pool ' || lpad(g::text, 4, '0'), 'platform', "
                "10000000 + g * 7919, (ARRAY['equal','population','usage','hybrid'])[1 + g % 4],"
                " CASE g % 4 WHEN 1 THEN '{\"year\": 2023}' WHEN 3 THEN "
                '\'{"equal_percent": "30", "rest": "usage"}\' ELSE \'{}\' END::json, '
                "g % 5 = 0, now(), now() FROM generate_series(1, :pools) g"
            ),
            {"period": PERIOD, "pools": pools},
        )
        conn.execute(
            sa.text(
                "INSERT INTO pool_participants (pool_id, tenant_id) "
                "SELECT p.id, t.id FROM cost_pools p CROSS JOIN "
                "(SELECT id FROM tenants WHERE status = 'active' ORDER BY id LIMIT :members) t "
                "WHERE p.period = :period"
            ),
            {"period": PERIOD, "members": members},
        )
        session = orm.Session(bind=conn, join_transaction_mode="create_savepoint")
        allow_all_tenants(session)
        started = time.perf_counter()
        made = runs.run(session, PERIOD, "bench")
        shares = session.scalar(
            sa.text("SELECT count(*) FROM allocation_shares WHERE run_id = :id"), {"id": made.id}
        )
        elapsed = time.perf_counter() - started
        session.close()
        outer.rollback()
    engine.dispose()
    return {"run_seconds": elapsed, "shares": shares}


def measure(bench_url: str, env: dict, *, members: int, pools: int, app) -> dict:
    result = {"members": members, "pools": pools, **time_split(members, pools)}
    result.update(time_run(bench_url, members, pools, app))
    print(
        f"[bench] allocation {members} × {pools}: split {result['split_seconds']:.2f} s, "
        f"whole run {result['run_seconds']:.2f} s ({result['shares']} shares)",
        flush=True,
    )
    return result
