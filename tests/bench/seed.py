"""Seeding the bench database fast: cases, their history and counters, written by the
database itself (INSERT … SELECT over generate_series) as the owner, year by year.

The data looks like a real platform's: cases spread over members by population, over the
e-services and over two and a half years, older ones mostly closed, a few assigned to the
demo case worker, references gapless per member and year with matching counters.
"""

import json
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

# Share of cases per e-service (the simple ones are the common ones).
SERVICE_SHARES = {
    "felanmalan": 0.30,
    "synpunkter": 0.28,
    "forskoleplats": 0.12,
    "skolskjuts": 0.10,
    "varmepump": 0.12,
    "parkeringstillstand": 0.08,
}
SYNTHETIC_PREFIX = "Bench-kommun"  # never a real member: only in the bench database
FIRST_SCB = 9001  # synthetic SCB codes, outside the real 0114–2584 range


def _log(message: str) -> None:
    print(f"[seed] {message}", flush=True)


def add_synthetic_members(conn: psycopg.Connection, total: int) -> None:
    """Members up to `total`, each a copy of Kil's settings under a clearly fake name."""
    real = conn.execute("SELECT count(*) FROM tenants").fetchone()[0]
    template = conn.execute("SELECT id FROM tenants WHERE slug = 'kil'").fetchone()[0]
    used = {row[0] for row in conn.execute("SELECT reference_prefix FROM tenants")}
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    prefixes = (f"Q{a}{b}" for a in letters for b in letters)
    rng = random.Random(17)
    for n in range(real + 1, total + 1):
        prefix = next(p for p in prefixes if p not in used)
        slug = f"bench-kommun-{n:03d}"
        conn.execute(
            """
            INSERT INTO tenants (slug, name, short_name, kind, is_hub, scb_code,
                reference_prefix, default_language, population_count, population_year,
                population_source, primary_colour, accent_colour, status, member_since,
                created_at, updated_at)
            SELECT %(slug)s, %(name)s, %(name)s, kind, false, %(scb)s, %(prefix)s,
                default_language, %(population)s, population_year,
                'Syntetisk: bara i benchmarkens databas', primary_colour, accent_colour,
                'active', member_since, now(), now()
            FROM tenants WHERE id = %(template)s
            """,
            {
                "slug": slug,
                "name": f"{SYNTHETIC_PREFIX} {n:03d}",
                "scb": str(FIRST_SCB + n),
                "prefix": prefix,
                "population": rng.randint(2_500, 100_000),
                "template": template,
            },
        )
        conn.execute(
            """
            INSERT INTO tenant_services (tenant_id, service_slug, definition_id, enabled,
                settings, updated_at)
            SELECT (SELECT id FROM tenants WHERE slug = %s), service_slug, definition_id,
                enabled, settings, now()
            FROM tenant_services WHERE tenant_id = %s
            """,
            (slug, template),
        )
    conn.commit()
    _log(f"{total - real} synthetic members ('{SYNTHETIC_PREFIX} NNN') added")


def seed_cases(
    conn: psycopg.Connection,
    total: int,
    answers_by_service: dict[str, list[dict]],
    worker_id: int | None,
    worker_tenant_id: int | None,
) -> None:
    """`total` cases over every member, year by year (numbers gapless per member+year)."""
    started = time.monotonic()
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SET synchronous_commit = off")  # the seed only: a crash just reruns it
    slots = _answers_table(conn, answers_by_service)
    members = conn.execute(
        "SELECT id, reference_prefix, coalesce(population_count, 10000) FROM tenants "
        "WHERE status = 'active' ORDER BY id"
    ).fetchall()
    people = sum(m[2] for m in members)
    conn.execute(
        "CREATE TEMP TABLE bench_plan (tenant_id int, prefix text, share float8, worker_id int)"
    )
    with conn.cursor().copy("COPY bench_plan FROM STDIN") as copy:
        for tenant_id, prefix, population in members:
            assigned = worker_id if tenant_id == worker_tenant_id else None
            copy.write_row((tenant_id, prefix, population / people, assigned))
    now = datetime.now(UTC)
    sweden = ZoneInfo("Europe/Stockholm")  # a case's year is Stockholm's, as in the app
    start = datetime(now.year - 2, 1, 1, tzinfo=sweden)
    span = (now - start).total_seconds()
    for year in range(start.year, now.year + 1):
        first = datetime(year, 1, 1, tzinfo=sweden)
        last = min(datetime(year + 1, 1, 1, tzinfo=sweden), now - timedelta(minutes=5))
        count = round(total * (last - first).total_seconds() / span)
        if count:
            _seed_year(conn, year, first, last, count, slots)
            _log(f"{year}: {count} cases ({time.monotonic() - started:.0f} s)")
    conn.execute(
        """
        INSERT INTO reference_counters (tenant_id, year, last_number)
        SELECT tenant_id, year, max(number) FROM cases GROUP BY tenant_id, year
        ON CONFLICT (tenant_id, year) DO UPDATE SET last_number = excluded.last_number
        """
    )
    conn.commit()
    _log(f"history and counters done ({time.monotonic() - started:.0f} s)")


def _answers_table(conn, answers_by_service: dict[str, list[dict]]) -> list[int]:
    """The answer variants, and 1 000 slots naming them in proportion to SERVICE_SHARES
    (a random slot picks a case's service and answers with one equality join)."""
    conn.execute("CREATE TEMP TABLE bench_answers (variant int, service_slug text, answers json)")
    slots = []
    variant = 0
    with conn.cursor().copy("COPY bench_answers FROM STDIN") as copy:
        for service, share in SERVICE_SHARES.items():
            variants = answers_by_service[service]
            for answers in variants:
                copy.write_row((variant, service, json.dumps(answers)))
                slots += [variant] * round(1000 * share / len(variants))
                variant += 1
    return slots


def _seed_year(conn, year: int, first: datetime, last: datetime, count: int, slots) -> None:
    """One year's cases for every member, in submission order (ids rise with time, members
    interleaved as on a real day), then their history."""
    before = conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
    conn.execute(
        """
        WITH raw AS (
            SELECT p.tenant_id, p.prefix, p.worker_id,
                   %(first)s::timestamptz
                       + (%(last)s::timestamptz - %(first)s::timestamptz) * random() AS at,
                   (%(slots)s::int[])[1 + floor(random() * %(nslots)s)::int] AS variant,
                   random() AS pick_status, random() AS pick_assigned
            FROM bench_plan p, generate_series(1, round(p.share * %(count)s)::int)
        ), numbered AS (
            SELECT raw.*, a.service_slug, a.answers, now() - raw.at AS age,
                   row_number() OVER (PARTITION BY raw.tenant_id ORDER BY raw.at) AS number
            FROM raw JOIN bench_answers a USING (variant)
        )
        INSERT INTO cases (reference, year, number, service_slug, definition_id, answers,
            status, channel, status_token, submitted_at, updated_at, tenant_id,
            assigned_to_id, closed_at)
        SELECT n.prefix || '-' || %(year)s || '-' || lpad(n.number::text, 6, '0'),
               %(year)s, n.number, n.service_slug, ts.definition_id, n.answers,
               s.status,
               CASE WHEN n.pick_assigned < 0.9 THEN 'web' ELSE 'api' END,
               md5(random()::text) || md5(random()::text),
               n.at, n.at + least(n.age, interval '14 days') * n.pick_status,
               n.tenant_id,
               CASE WHEN n.pick_assigned < 0.04 THEN n.worker_id END,
               CASE WHEN s.status = 'closed' THEN n.at + interval '10 days' END
        FROM numbered n
        JOIN tenant_services ts ON ts.tenant_id = n.tenant_id
                               AND ts.service_slug = n.service_slug
        CROSS JOIN LATERAL (SELECT CASE
            WHEN n.age > interval '60 days' THEN
                CASE WHEN n.pick_status < 0.85 THEN 'closed'
                     WHEN n.pick_status < 0.95 THEN 'decided'
                     ELSE 'in_progress' END
            WHEN n.age > interval '7 days' THEN
                CASE WHEN n.pick_status < 0.30 THEN 'closed'
                     WHEN n.pick_status < 0.50 THEN 'decided'
                     WHEN n.pick_status < 0.60 THEN 'waiting_for_citizen'
                     WHEN n.pick_status < 0.90 THEN 'in_progress'
                     ELSE 'received' END
            ELSE CASE WHEN n.pick_status < 0.6 THEN 'received' ELSE 'in_progress' END
            END AS status) s
        ORDER BY n.at
        """,
        {
            "first": first,
            "last": last,
            "count": count,
            "year": year,
            "slots": slots,
            "nslots": len(slots),
        },
    )
    conn.execute(
        """
        INSERT INTO case_events (case_id, kind, status, message, visible_to_citizen,
            created_at, tenant_id)
        SELECT id, 'submitted', 'received', 'Ärendet har tagits emot och registrerats.', true,
               submitted_at, tenant_id
        FROM cases WHERE id > %(before)s
        UNION ALL
        SELECT id, 'status_changed', status,
               CASE WHEN status = 'waiting_for_citizen'
                    THEN 'Vi behöver en komplettering: skicka gärna en bild.' END,
               true, updated_at, tenant_id
        FROM cases WHERE id > %(before)s AND status <> 'received'
        ORDER BY 6
        """,
        {"before": before},
    )
    conn.commit()


def seed_drafts(
    conn: psycopg.Connection, per_member: int, service: str, answers: dict, steps: list[str]
) -> list[tuple[int, str]]:
    """Completed drafts, as a citizen leaves them on the check-your-answers page: each one
    is submitted once by the load generator. Returns (tenant id, draft id)."""
    now = datetime.now(UTC)
    rows = conn.execute(
        "SELECT tenant_id, definition_id FROM tenant_services "
        "WHERE service_slug = %s AND enabled ORDER BY tenant_id",
        (service,),
    ).fetchall()
    made = []
    with conn.cursor().copy(
        "COPY drafts (id, service_slug, definition_id, answers, completed_steps, created_at, "
        "updated_at, expires_at, tenant_id) FROM STDIN"
    ) as copy:
        for tenant_id, definition_id in rows:
            for _ in range(per_member):
                draft_id = secrets.token_urlsafe(24)
                copy.write_row(
                    (
                        draft_id,
                        service,
                        definition_id,
                        json.dumps(answers),
                        json.dumps(steps),
                        now,
                        now,
                        now + timedelta(days=30),
                        tenant_id,
                    )
                )
                made.append((tenant_id, draft_id))
    conn.commit()
    return made


def analyze(conn: psycopg.Connection) -> None:
    conn.autocommit = True
    for table in ("cases", "case_events", "drafts", "reference_counters", "tenants"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    conn.autocommit = False


def check_gapless(conn: psycopg.Connection) -> None:
    """Fails loudly when a member's series has a gap or a counter disagrees."""
    bad = conn.execute(
        """
        SELECT c.tenant_id, c.year, count(*), max(c.number), min(c.number), r.last_number
        FROM cases c JOIN reference_counters r USING (tenant_id, year)
        GROUP BY c.tenant_id, c.year, r.last_number
        HAVING count(*) <> max(c.number) OR min(c.number) <> 1 OR max(c.number) <> r.last_number
        """
    ).fetchall()
    if bad:
        raise RuntimeError(f"seeded series are not gapless: {bad[:5]}")
