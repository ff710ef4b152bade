"""What an allocation run says, in words and figures: each member's statement (pool, key,
share as a fraction and a percentage, amount), the whole run as a table or JSON, and what
members would pay under two different keys.

Everything is read from the run as it was stored — the names, figures and keys it used —
so a statement printed years later says what the invoice said. Money is integer öre; text
is made with integer arithmetic only, never floats.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import orm

from samverkan.casework.export import neutralise
from samverkan.clock import SWEDEN
from samverkan.costs import allocation
from samverkan.costs.models import CATEGORIES, KEYS, AllocationRun
from samverkan.costs.runs import period_bounds, tenants_by_id, usage_counts
from samverkan.templating import MONTHS
from samverkan.tenancy.models import Tenant

# -- Numbers as Swedish text -------------------------------------------------------------


def grouped(number: int) -> str:
    """283548 → "283 548" (Swedish digit grouping with a space)."""
    sign = "-" if number < 0 else ""
    return sign + f"{abs(number):,}".replace(",", " ")


def amount_text(ore: int) -> str:
    """123456 öre → "1 234,56" (no currency: for CSV and tables)."""
    if not isinstance(ore, int) or isinstance(ore, bool):
        raise TypeError(f"an amount is a whole number of öre, not {ore!r}")
    kronor_part, ore_part = divmod(abs(ore), 100)
    return ("-" if ore < 0 else "") + f"{grouped(kronor_part)},{ore_part:02d}"


def csv_amount(ore: int) -> str:
    """123456 öre → "1234,56": for a spreadsheet, without digit grouping. Swedish Excel
    groups with a non-breaking space and reads a cell grouped with an ordinary one as
    text, which no SUM adds up."""
    return amount_text(ore).replace(" ", "")


def kronor(ore: int) -> str:
    """123456 öre → "1 234,56 kr"."""
    return f"{amount_text(ore)} kr"


def fraction_text(weight: Fraction) -> str:
    """The exact share, reduced: "1/16", "97233/283548"."""
    weight = Fraction(weight)
    return f"{weight.numerator}/{weight.denominator}"


def percent_text(weight: Fraction, decimals: int = 4) -> str:
    """A fraction as a Swedish percentage, rounded half up: 1/16 → "6,2500 %"."""
    scale = 10**decimals
    scaled = Fraction(weight) * 100 * scale
    rounded = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    whole, part = divmod(abs(rounded), scale)
    sign = "-" if rounded < 0 else ""
    return f"{sign}{whole},{part:0{decimals}d} %" if decimals else f"{sign}{whole} %"


def _plain_percent(text: str | None) -> str:
    """A stored percentage ("12.5") as people write it ("12,5 %")."""
    return f"{str(text).strip().replace('.', ',')} %"


def _hundred_minus(text: str | None) -> str:
    # Exact decimal arithmetic on the agreed text: "30" → "70", "12.5" → "87,5".
    rest = 100 - Fraction(str(text).replace(",", "."))
    return _plain_percent(_decimal_of(rest))


def _decimal_of(value: Fraction) -> str:
    """A fraction with a finite decimal expansion (from a decimal text) as text."""
    whole, part = divmod(value.numerator, value.denominator)
    if not part:
        return str(whole)
    digits = ""
    while part and len(digits) < 12:
        part *= 10
        digit, part = divmod(part, value.denominator)
        digits += str(digit)
    return f"{whole}.{digits}"


def _reference_date(year) -> str:
    return f"31 december {year}" if year else "senast kända siffra"


def _rest_label(rest: str | None, key: dict) -> str:
    if rest == allocation.POPULATION:
        return f"efter folkmängd ({_reference_date(key.get('population_year'))})"
    return "efter användning (ärenden under perioden)"


def key_label(key: dict) -> str:
    """A stored key in words, with its parameters: "30 % lika delar, 70 % efter folkmängd
    (31 december 2023), pro rata per dag"."""
    kind = key["kind"]
    if kind == allocation.POPULATION:
        text = f"Efter folkmängd ({_reference_date(key.get('population_year'))})"
    elif kind == allocation.USAGE:
        service = key.get("service")
        text = "Efter användning: ärenden under perioden" + (
            f" i e-tjänsten {service}" if service else ", alla e-tjänster"
        )
    elif kind == allocation.HYBRID:
        share = key.get("equal_percent")
        text = (
            f"{_plain_percent(share)} lika delar, {_hundred_minus(share)} "
            f"{_rest_label(key.get('rest'), key)}"
        )
    else:
        text = KEYS.get(kind, kind)
    if key.get("pro_rata"):
        text += ", pro rata per dag"
    return text


def _basis(pool: dict, member: dict) -> str:
    """The member's own figure under the key, beside everyone's: "97 233 av 283 548 invånare"."""
    key, everyone = pool["key"], pool["participants"]
    parts = []
    kinds = {key["kind"]}
    if key["kind"] == allocation.HYBRID:
        kinds = {allocation.EQUAL, key.get("rest")}
    if allocation.EQUAL in kinds:
        parts.append(f"1 av {len(everyone)} deltagare")
    if allocation.POPULATION in kinds:
        total = sum(p["population"] or 0 for p in everyone)
        parts.append(f"{grouped(member['population'] or 0)} av {grouped(total)} invånare")
    if allocation.USAGE in kinds:
        total = sum(p["usage"] or 0 for p in everyone)
        parts.append(f"{grouped(member['usage'] or 0)} av {grouped(total)} ärenden")
    if allocation.PERCENTAGES in kinds:
        parts.append(f"{_plain_percent(member['percentage'])} enligt överenskommelse")
    if key.get("pro_rata"):
        start, end = (date.fromisoformat(pool["period"][k]) for k in ("start", "end"))
        days = allocation.days_in_period(start, end)
        parts.append(f"{member['days']} av {days} dagar")
    return "; ".join(parts)


def period_label(period: str) -> str:
    """'2026' → '2026'; '2026-03' → 'mars 2026'."""
    start = period_bounds(period)[0]
    return period if len(period) == 4 else f"{MONTHS[start.month - 1]} {start.year}"


# -- A member's statement ----------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    pool_id: int
    pool_name: str
    category: str
    category_label: str
    key_label: str
    basis: str  # the member's figure under the key
    pool_amount_ore: int
    fraction: str  # "1/16"
    percentage: str  # "6,2500 %"
    amount_ore: int


@dataclass(frozen=True)
class Statement:
    run_id: int
    period: str
    period_label: str
    run_date: date
    checksum: str
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    rows: list[StatementRow]
    total_ore: int


def _pools_by_id(run: AllocationRun) -> dict[int, dict]:
    return {pool["pool_id"]: pool for pool in run.inputs["pools"]}


def member_statement(run: AllocationRun, tenant_id: int) -> Statement:
    """The member's part of every pool it shares in, from the run's stored shares and
    inputs. A member that shares in no pool gets a statement with no rows and 0 kr."""
    pools = _pools_by_id(run)
    rows, slug, name = [], None, None
    for share in run.shares:
        if share.tenant_id != tenant_id:
            continue
        pool = pools[share.pool_id]
        member = next(p for p in pool["participants"] if p["tenant_id"] == tenant_id)
        slug, name = member["slug"], member["name"]
        weight = Fraction(share.numerator, share.denominator)
        rows.append(
            StatementRow(
                pool_id=share.pool_id,
                pool_name=pool["name"],
                category=pool["category"],
                category_label=CATEGORIES.get(pool["category"], pool["category"]),
                key_label=key_label(pool["key"]),
                basis=_basis(pool, member),
                pool_amount_ore=pool["amount_ore"],
                fraction=fraction_text(weight),
                percentage=percent_text(weight),
                amount_ore=share.amount_ore,
            )
        )
    rows.sort(key=lambda row: (row.pool_name, row.pool_id))
    if slug is None:  # not in any pool: name it from the members as they are now
        tenant = orm.object_session(run).get(Tenant, tenant_id)
        slug, name = (tenant.slug, tenant.name) if tenant else ("", "")
    return Statement(
        run_id=run.id,
        period=run.period,
        period_label=period_label(run.period),
        run_date=_swedish_date(run),
        checksum=run.checksum,
        tenant_id=tenant_id,
        tenant_slug=slug,
        tenant_name=name,
        rows=rows,
        total_ore=sum(row.amount_ore for row in rows),
    )


def _swedish_date(run: AllocationRun) -> date:
    return run.created_at.astimezone(SWEDEN).date()


STATEMENT_HEADER = [
    "Pool",
    "Kategori",
    "Fördelningsnyckel",
    "Underlag",
    "Poolens belopp (kr)",
    "Andel (bråk)",
    "Andel (procent)",
    "Belopp (kr)",
]


def _csv(rows: list[list[str]]) -> str:
    # Semicolons and a byte-order mark: what Excel in Swedish opens without an import step.
    # A cell the hub typed (a pool's name) that starts like a formula is text, as in every
    # export; amounts are never negative (the pools' check), so no figure is touched.
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return "\ufeff" + buffer.getvalue()


def statement_csv(statement: Statement) -> str:
    """The statement as CSV: one line per pool and a total line."""
    rows = [STATEMENT_HEADER]
    for row in statement.rows:
        rows.append(
            [
                row.pool_name,
                row.category_label,
                row.key_label,
                row.basis,
                csv_amount(row.pool_amount_ore),
                row.fraction,
                row.percentage,
                csv_amount(row.amount_ore),
            ]
        )
    rows.append(["Summa", "", "", "", "", "", "", csv_amount(statement.total_ore)])
    return _csv(rows)


def statement_filename(statement: Statement, extension: str) -> str:
    """Named by its run too: two runs of a period make two different files."""
    return (
        f"kostnadsfordelning-{statement.period}-{statement.tenant_slug}"
        f"-korning-{statement.run_id}.{extension}"
    )


# -- The whole run -----------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow:
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    scb_code: str
    pool_id: int
    pool_name: str
    key_label: str
    fraction: str
    percentage: str
    amount_ore: int


def run_table(run: AllocationRun) -> list[RunRow]:
    """Every member × pool of the run, by member (SCB code) then pool name."""
    pools = _pools_by_id(run)
    rows = []
    for share in run.shares:
        pool = pools[share.pool_id]
        member = next(p for p in pool["participants"] if p["tenant_id"] == share.tenant_id)
        weight = Fraction(share.numerator, share.denominator)
        rows.append(
            RunRow(
                tenant_id=share.tenant_id,
                tenant_slug=member["slug"],
                tenant_name=member["name"],
                scb_code=member["scb_code"],
                pool_id=share.pool_id,
                pool_name=pool["name"],
                key_label=key_label(pool["key"]),
                fraction=fraction_text(weight),
                percentage=percent_text(weight),
                amount_ore=share.amount_ore,
            )
        )
    rows.sort(key=lambda row: (row.scb_code, row.pool_name, row.pool_id))
    return rows


@dataclass(frozen=True)
class MemberTotal:
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    total_ore: int


def member_totals(run: AllocationRun) -> list[MemberTotal]:
    """What each member pays in all, in SCB-code order."""
    totals: dict[int, list] = {}
    for row in run_table(run):
        entry = totals.setdefault(row.tenant_id, [row, 0])
        entry[1] += row.amount_ore
    return [
        MemberTotal(row.tenant_id, row.tenant_slug, row.tenant_name, total)
        for row, total in totals.values()
    ]


RUN_HEADER = [
    "Medlem",
    "Pool",
    "Fördelningsnyckel",
    "Andel (bråk)",
    "Andel (procent)",
    "Belopp (kr)",
]


def run_csv(run: AllocationRun) -> str:
    """The whole run as CSV: one line per member and pool."""
    rows = [RUN_HEADER]
    for row in run_table(run):
        rows.append(
            [
                row.tenant_name,
                row.pool_name,
                row.key_label,
                row.fraction,
                row.percentage,
                csv_amount(row.amount_ore),
            ]
        )
    return _csv(rows)


def run_json(run: AllocationRun) -> dict:
    """The run as plain JSON: pools with their keys and shares, and each member's total."""
    by_pool: dict[int, list] = {}
    for share in run.shares:
        by_pool.setdefault(share.pool_id, []).append(share)
    pools = []
    for pool in run.inputs["pools"]:
        members = {p["tenant_id"]: p for p in pool["participants"]}
        shares = sorted(
            by_pool.get(pool["pool_id"], []), key=lambda s: members[s.tenant_id]["scb_code"]
        )
        pools.append(
            {
                "id": pool["pool_id"],
                "name": pool["name"],
                "category": pool["category"],
                "amount_ore": pool["amount_ore"],
                "key": {**pool["key"], "label": key_label(pool["key"])},
                "shares": [
                    {
                        "member": members[s.tenant_id]["slug"],
                        "name": members[s.tenant_id]["name"],
                        "numerator": s.numerator,
                        "denominator": s.denominator,
                        "amount_ore": s.amount_ore,
                    }
                    for s in shares
                ],
            }
        )
    return {
        "run": run.id,
        "period": run.period,
        "created_at": run.created_at.isoformat(),
        "created_by": run.created_by,
        "checksum": run.checksum,
        "pools": pools,
        "members": [
            {"member": t.tenant_slug, "name": t.tenant_name, "total_ore": t.total_ore}
            for t in member_totals(run)
        ],
    }


# -- Two keys side by side ---------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    tenant: Tenant
    ore_a: int
    ore_b: int
    difference: int  # ore_b - ore_a: what the member pays more (or less) under key b


def compare_keys(
    session: orm.Session,
    period: str,
    amount_ore: int,
    tenant_ids: list[int],
    key_a: allocation.Key,
    key_b: allocation.Key,
) -> list[Comparison]:
    """What each member would pay of `amount_ore` under key a and under key b, with the
    members' recorded population and their cases in the period. `session` must come from
    `across_members` (it reads every member's cases). Fixed percentages have no figures to
    compare with: AllocationError. Members in name order."""
    start, end = period_bounds(period)
    tenants = tenants_by_id(session)
    missing = [tid for tid in tenant_ids if tid not in tenants]
    if missing or not tenant_ids:
        raise allocation.AllocationError("participants", "Välj minst en medlem att jämföra.")
    needs_usage = any(
        k.kind == allocation.USAGE or (k.kind == allocation.HYBRID and k.rest == allocation.USAGE)
        for k in (key_a, key_b)
    )
    counts = usage_counts(session, start, end) if needs_usage else {}
    participants = [
        allocation.Participant(
            key=tenants[tid].scb_code,
            name=tenants[tid].name,
            population=tenants[tid].population_count,
            usage=counts.get(tid, 0),
        )
        for tid in tenant_ids
    ]
    results = []
    for which, key in (("a", key_a), ("b", key_b)):
        try:
            if key.kind == allocation.PERCENTAGES:
                raise allocation.AllocationError(
                    "key",
                    "Fasta procentsatser har inga siffror att jämföra med; välj en annan nyckel.",
                )
            shares = allocation.allocate(amount_ore, participants, key)
        except allocation.AllocationError as exc:
            exc.which = which  # the key it is about: the page shows it by that key's field
            raise
        results.append({share.key: share.amount_ore for share in shares})
    by_code = {tenants[tid].scb_code: tenants[tid] for tid in tenant_ids}
    rows = [
        Comparison(tenant, results[0][code], results[1][code], results[1][code] - results[0][code])
        for code, tenant in by_code.items()
    ]
    return sorted(rows, key=lambda row: (row.tenant.name, row.tenant.scb_code))
