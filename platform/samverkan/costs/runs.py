"""Running an allocation: gather every input of a period's pools, split each pool, and
store the run — inputs, shares, a checksum — so it can be shown and reproduced later.
Usage counts come from the platform's own cases, read through the hub's named path."""

import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import islice, repeat
from math import gcd
from operator import itemgetter

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import orm

from samverkan.cases.models import Case
from samverkan.clock import SWEDEN
from samverkan.costs import allocation
from samverkan.costs.models import AllocationRun, AllocationShare, CostPool, PoolParticipant
from samverkan.tenancy.models import Tenant


class RunError(ValueError):
    """A period that cannot be allocated; every problem, each naming its pool."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


PERIOD = re.compile(r"(20[0-9]{2}|2100)(-(0[1-9]|1[0-2]))?")


def period_bounds(period: str) -> tuple[date, date]:
    """'2026' → the year; '2026-03' → the month. ValueError for anything else."""
    try:
        if not PERIOD.fullmatch(period or ""):
            raise ValueError(period)
        if len(period) == 4:
            year = int(period)
            return date(year, 1, 1), date(year, 12, 31)
        if len(period) == 7 and period[4] == "-":
            year, month = int(period[:4]), int(period[5:])
            start = date(year, month, 1)
            end = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
            return start, end
    except ValueError:
        pass
    raise ValueError(f"'{period}' is not a period: write a year (2026) or a month (2026-03)")


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SWEDEN)


def usage_counts(
    session: orm.Session, start: date, end: date, service: str | None = None
) -> dict[int, int]:
    """Cases per member submitted in the period (Swedish dates, inclusive). The session
    must be the hub's across-members session."""
    query = (
        sa.select(Case.tenant_id, sa.func.count(Case.id))
        .where(Case.submitted_at >= _moment(start), Case.submitted_at < _moment(end + timedelta(1)))
        .group_by(Case.tenant_id)
    )
    if service:
        query = query.where(Case.service_slug == service)
    return dict(session.execute(query).all())


def _latest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


def _earliest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None


def _participants_by_pool(session: orm.Session, pools: list[CostPool]) -> dict[int, list]:
    """Each pool's participants in SCB code order, each a tuple of the member's figures
    (scb_code, slug, name, population_count, population_year, member_since, left_on) and
    the pool's (tenant_id, percentage, population, joined_on, left_on). Two queries: 1 000
    pools × 290 members loaded through the ORM relationships took a minute."""
    member = Tenant.__table__.c
    members = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            sa.select(
                member.id,
                member.scb_code,
                member.slug,
                member.name,
                member.population_count,
                member.population_year,
                member.member_since,
                member.left_on,
            )
        ).all()
    }
    taking_part = PoolParticipant.__table__.c
    by_pool: dict[int, list] = {pool.id: [] for pool in pools}
    for pool_id, tenant_id, *figures in session.execute(
        sa.select(
            taking_part.pool_id,
            taking_part.tenant_id,
            taking_part.percentage,
            taking_part.population,
            taking_part.joined_on,
            taking_part.left_on,
        )
        .where(taking_part.pool_id.in_(sa.bindparam("pools", expanding=True)))
        .order_by(taking_part.pool_id, taking_part.tenant_id),
        {"pools": list(by_pool)},
    ).all():
        by_pool[pool_id].append((*members[tenant_id], tenant_id, *figures))
    for participants in by_pool.values():
        participants.sort(key=itemgetter(0))  # by SCB code
    return by_pool


@lru_cache(maxsize=4096)  # the same few membership dates in every pool of a period
def _days_taking_part(
    joined_on: date | None,
    member_since: date | None,
    left_on: date | None,
    member_left_on: date | None,
    start: date,
    end: date,
) -> int:
    """The pool's own dates, within the member's membership: a member that joined or left
    during the period is never charged for days outside it."""
    joined, left = _latest(joined_on, member_since), _earliest(left_on, member_left_on)
    first, last = max(start, joined or start), min(end, left or end)
    return max(0, (last - first).days + 1)


def pool_inputs(session: orm.Session, pool: CostPool, usage: dict, participants: list) -> dict:
    """Everything the split of one pool rests on, as plain JSON. `participants` are the
    pool's, from _participants_by_pool."""
    start, end = period_bounds(pool.period)
    settings = pool.key_settings or {}
    service = settings.get("service")
    if (pool.period, service) not in usage:
        usage[(pool.period, service)] = usage_counts(session, start, end, service)
    counts = usage[(pool.period, service)]
    year = settings.get("year")
    return {
        "pool_id": pool.id,
        "name": pool.name,
        "category": pool.category,
        "amount_ore": pool.amount_ore,
        "key": {
            "kind": pool.key_kind,
            "equal_percent": settings.get("equal_percent"),
            "rest": settings.get("rest"),
            "population_year": settings.get("year"),
            "service": settings.get("service"),
            "pro_rata": pool.pro_rata,
        },
        "period": {"name": pool.period, "start": start.isoformat(), "end": end.isoformat()},
        "participants": [
            {
                "tenant_id": tenant_id,
                "slug": slug,
                "name": name,
                "scb_code": scb_code,
                # The pool's reference year, from the member's recorded figure only when it
                # is that year's: otherwise the figure must be given for the pool.
                "population": population
                if population is not None
                else (population_count if year in (None, population_year) else None),
                "population_year": year or population_year,
                "usage": counts.get(tenant_id, 0),
                "percentage": percentage,
                "days": _days_taking_part(
                    joined_on, member_since, left_on, member_left_on, start, end
                ),
            }
            for (
                scb_code,
                slug,
                name,
                population_count,
                population_year,
                member_since,
                member_left_on,
                tenant_id,
                percentage,
                population,
                joined_on,
                left_on,
            ) in participants
        ],
    }


def split_pool(inputs: dict) -> list[allocation.Share]:
    """The shares of one pool from its stored inputs (as a run is reproduced)."""
    key = inputs["key"]
    start, end = (date.fromisoformat(inputs["period"][k]) for k in ("start", "end"))
    rows = inputs["participants"]
    return allocation.allocate_columns(
        inputs["amount_ore"],
        allocation.Key(
            kind=key["kind"],
            equal_percent=key["equal_percent"],
            rest=key["rest"],
            pro_rata=key["pro_rata"],
            period_days=allocation.days_in_period(start, end),
        ),
        list(map(itemgetter("scb_code"), rows)),
        list(map(itemgetter("name"), rows)),
        lambda figure: list(map(itemgetter(figure), rows)),
    )


def _counted_once(inputs: dict) -> None:
    """A new run's pool by population counts no one twice (a region beside its
    municipalities: allocation.population_counted_once), whenever the pool was made."""
    key = inputs["key"]
    if allocation.counts_population(allocation.Key(kind=key["kind"], rest=key["rest"])):
        rows = inputs["participants"]
        allocation.population_counted_once(
            list(map(itemgetter("scb_code"), rows)), list(map(itemgetter("name"), rows))
        )


def _invoicing(session: orm.Session) -> dict:
    """Who invoices and how (accounts, series, VAT) as it stands when the run is made, so
    the run's SIE file says the same years later, whatever the config says then."""
    hub = session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))
    settings = {}
    if has_app_context():
        settings = {k: str(v) for k, v in current_app.config.items() if k.startswith("COSTS_")}
    return {
        "issuer": {"name": hub.name if hub else None, "orgnr": hub.orgnr if hub else None},
        "settings": settings,
    }


def _checksum(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _where_to_give(pool: CostPool, error: allocation.AllocationError) -> str:
    """Where the figure a run lacks is given: a population for the key's own year."""
    year = (pool.key_settings or {}).get("year")
    if error.field == "population" and year:
        return (
            f" Nyckeln räknar folkmängden {year}: ange den för deltagaren i poolen, "
            "eller låt nyckeln räkna med medlemmens senaste siffra."
        )
    return ""


class PoolProblem(ValueError):
    """Why one pool cannot be split, with where to give what it lacks."""


def _checked_split(pool: CostPool, pool_input: dict) -> list[allocation.Share]:
    """The pool's shares as a new run splits it; PoolProblem says why it cannot."""
    try:
        _counted_once(pool_input)
        return split_pool(pool_input)
    except allocation.AllocationError as exc:
        raise PoolProblem(f"{exc.message}{_where_to_give(pool, exc)}") from exc


def pool_problem(session: orm.Session, pool: CostPool) -> str | None:
    """What would stop a run from splitting `pool` as it stands (percentages that do not
    make 100, a population missing), as the run would say it; None when it splits. A key
    by usage is not tried: its counts grow until the period has ended."""
    settings = pool.key_settings or {}
    if allocation.USAGE in (pool.key_kind, settings.get("rest")):
        return None
    no_usage = {(pool.period, settings.get("service")): {}}
    participants = _participants_by_pool(session, [pool])[pool.id]
    try:
        _checked_split(pool, pool_inputs(session, pool, no_usage, participants))
    except PoolProblem as problem:
        return str(problem)
    return None


def run(session: orm.Session, period: str, created_by: str) -> AllocationRun:
    """Allocate every pool of the period and store the run; RunError names each pool that
    cannot be split. `session` is the hub's across-members session; the caller commits."""
    period_bounds(period)  # a clear error for a malformed period
    pools = session.scalars(
        sa.select(CostPool).where(CostPool.period == period).order_by(CostPool.name)
    ).all()
    if not pools:
        raise RunError([f"Det finns inga kostnadspooler för {period}."])
    usage: dict = {}
    inputs, results, problems = [], [], []
    participants = _participants_by_pool(session, pools)
    for pool in pools:
        pool_input = pool_inputs(session, pool, usage, participants[pool.id])
        try:
            results.append((pool_input, _checked_split(pool, pool_input)))
        except PoolProblem as problem:
            problems.append(f"{pool.name}: {problem}")
        inputs.append(pool_input)
    if problems:
        raise RunError(problems)
    stored = {"period": period, "pools": inputs, "invoicing": _invoicing(session)}
    allocation_run = AllocationRun(
        period=period, created_by=created_by, inputs=stored, checksum=_checksum(stored)
    )
    session.add(allocation_run)
    session.flush()
    _store_shares(session, allocation_run.id, inputs, results)
    return allocation_run


# A run of 290 members × 1 000 pools is 290 000 shares: one ORM object each took 100 s.
SHARE_COLUMNS = (
    "run_id",
    "pool_id",
    "pool_name",
    "tenant_id",
    "tenant_slug",
    "numerator",
    "denominator",
    "amount_ore",
)
SHARE_BATCH = 5_000  # rows per executemany where there is no COPY: bounded memory


def _share_rows(run_id: int, inputs: list, results: list):
    """Each share as a row of SHARE_COLUMNS; the weight as its reduced fraction."""
    members = {
        p["scb_code"]: (p["tenant_id"], p["slug"]) for i in inputs for p in i["participants"]
    }
    for pool_input, shares in results:
        pool_id, pool_name, denominator = (
            pool_input["pool_id"],
            pool_input["name"],
            shares.denominator,
        )
        common = map(gcd, shares.numerators, repeat(denominator))
        for code, amount_ore, numerator, g in zip(
            shares.keys, shares.amounts, shares.numerators, common, strict=True
        ):
            tenant_id, slug = members[code]
            yield (
                run_id,
                pool_id,
                pool_name,
                tenant_id,
                slug,
                numerator // g,
                denominator // g,
                amount_ore,
            )


def _store_shares(session: orm.Session, run_id: int, inputs: list, results: list) -> None:
    """Every share of the run in bulk, on the session's connection, so in the run's own
    transaction: with COPY on PostgreSQL (12 times an executemany's speed), else with one
    executemany per batch. Both only INSERT, as the grants and triggers allow."""
    rows = _share_rows(run_id, inputs, results)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        copy_sql = f"COPY allocation_shares ({', '.join(SHARE_COLUMNS)}) FROM STDIN"
        with (
            connection.connection.driver_connection.cursor() as cursor,
            cursor.copy(copy_sql) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    insert = sa.insert(AllocationShare.__table__)
    while batch := [
        dict(zip(SHARE_COLUMNS, row, strict=True)) for row in islice(rows, SHARE_BATCH)
    ]:
        connection.execute(insert, batch)


def reproduce(allocation_run: AllocationRun) -> dict[int, list[allocation.Share]]:
    """The shares computed again from the run's stored inputs (pool id → shares)."""
    return {p["pool_id"]: split_pool(p) for p in allocation_run.inputs["pools"]}


def differences(allocation_run: AllocationRun) -> list[str]:
    """How a stored run differs from what its own inputs give when split again now: empty
    when it reproduces (its checksum holds and every share is the same öre and weight)."""
    problems = []
    if _checksum(allocation_run.inputs) != allocation_run.checksum:
        problems.append("its inputs no longer match their checksum: they were changed")
    pools = allocation_run.inputs["pools"]
    again = set(_share_rows(allocation_run.id, pools, [(p, split_pool(p)) for p in pools]))
    stored = {tuple(getattr(s, c) for c in SHARE_COLUMNS) for s in allocation_run.shares}
    if again != stored:
        problems.append(
            f"{len(again ^ stored)} share rows differ from its inputs split again "
            f"({len(stored - again)} stored, {len(again - stored)} computed)"
        )
    return problems


def latest_run(session: orm.Session, period: str) -> AllocationRun | None:
    return session.scalar(
        sa.select(AllocationRun)
        .where(AllocationRun.period == period)
        .order_by(AllocationRun.id.desc())
        .limit(1)
    )


def pools_changed_since(session: orm.Session, run: AllocationRun) -> bool:
    """The period's pools are no longer the ones `run` split: one was added, removed, or
    saved since (every save sets a pool's updated_at, its participants' changes too)."""
    pools = session.execute(
        sa.select(CostPool.id, CostPool.updated_at).where(CostPool.period == run.period)
    ).all()
    if {p.id for p in pools} != {p["pool_id"] for p in run.inputs["pools"]}:
        return True
    return any(p.updated_at > run.created_at for p in pools)


def weight_of(share: AllocationShare) -> Fraction:
    return Fraction(share.numerator, share.denominator)


def tenants_by_id(session: orm.Session) -> dict[int, Tenant]:
    return {t.id: t for t in session.scalars(sa.select(Tenant))}
