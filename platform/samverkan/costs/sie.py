"""The hub's invoices for a run as an SIE 4 file its finance system imports: one voucher per
member that pays something — a debit on the receivable account, a credit per pool on the
revenue account, and, when VAT is set, a VAT line per pool — each balancing to zero.

SIE 4 (FACTS): tagged plain text in code page 437 (`#FORMAT PC8`); the header records
`#FLAGGA`, `#PROGRAM`, `#GEN`, `#SIETYP`, `#FNAMN`, `#ORGNR`, `#RAR`, the accounts used
(`#KONTO`), then `#VER series number date "text"` with `{ #TRANS account {} amount }`.
Amounts have a decimal point. The hub's own share is not invoiced: it stays a cost of
its own.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version

from samverkan.clock import SWEDEN, swedish_today
from samverkan.costs.models import AllocationRun
from samverkan.costs.statements import member_statement, member_totals, period_label
from samverkan.tenancy.models import Tenant

ENCODING = "cp437"


def sie_amount(ore: int) -> str:
    """123456 öre → "1234.56"; -5 → "-0.05"."""
    sign = "-" if ore < 0 else ""
    whole, part = divmod(abs(ore), 100)
    return f"{sign}{whole}.{part:02d}"


def quoted(text: str) -> str:
    """A SIE string: in quotes, with quotes and backslashes escaped and no line breaks."""
    flat = " ".join(str(text).split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def vat_ore(net_ore: int, percent: Decimal) -> int:
    """VAT on one line, rounded half up to whole öre."""
    exact = Fraction(net_ore) * Fraction(percent) / 100
    return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


@dataclass(frozen=True)
class Accounts:
    series: str
    receivable: tuple[str, str]
    revenue: tuple[str, str]
    vat: tuple[str, str]
    vat_percent: Decimal

    @classmethod
    def from_settings(cls, settings: Mapping) -> "Accounts":
        return cls(
            series=settings["COSTS_VOUCHER_SERIES"],
            receivable=(
                settings["COSTS_RECEIVABLE_ACCOUNT"],
                settings["COSTS_RECEIVABLE_ACCOUNT_NAME"],
            ),
            revenue=(settings["COSTS_REVENUE_ACCOUNT"], settings["COSTS_REVENUE_ACCOUNT_NAME"]),
            vat=(settings["COSTS_VAT_ACCOUNT"], settings["COSTS_VAT_ACCOUNT_NAME"]),
            vat_percent=Decimal(settings["COSTS_VAT_PERCENT"]),
        )


def _program_version() -> str:
    try:
        return version("samverkan")
    except PackageNotFoundError:  # pragma: no cover - the package is always installed
        return "0"


def _percent_text(percent: Decimal) -> str:
    return f"{percent.normalize():f}".replace(".", ",")


def sie_for_run(
    run: AllocationRun,
    hub_tenant: Tenant,
    settings: Mapping,
    generated_on: date | None = None,
) -> bytes:
    """The run's invoice vouchers as an SIE 4 file (bytes in CP437). Vouchers are dated the
    day the run was made; the financial year (`#RAR 0`) is that day's calendar year."""
    # A run keeps the invoicing settings and issuer of its day (runs._invoicing); older
    # runs without them use today's.
    invoicing = run.inputs.get("invoicing") or {}
    accounts = Accounts.from_settings(invoicing.get("settings") or settings)
    issuer = invoicing.get("issuer") or {"name": hub_tenant.name, "orgnr": hub_tenant.orgnr}
    voucher_date = run.created_at.astimezone(SWEDEN).date()
    day = f"{voucher_date:%Y%m%d}"
    charge_vat = accounts.vat_percent != 0
    used = [accounts.receivable, accounts.revenue] + ([accounts.vat] if charge_vat else [])
    lines = [
        "#FLAGGA 0",
        "#FORMAT PC8",
        f"#PROGRAM {quoted('Samverkan')} {quoted(_program_version())}",
        f"#GEN {(generated_on or swedish_today()):%Y%m%d}",
        "#SIETYP 4",
        f"#FNAMN {quoted(issuer['name'])}",
    ]
    if issuer.get("orgnr"):
        lines.append(f"#ORGNR {issuer['orgnr']}")
    lines += [
        f"#RAR 0 {voucher_date.year}0101 {voucher_date.year}1231",
        "#VALUTA SEK",
    ]
    lines += [f"#KONTO {number} {quoted(name)}" for number, name in used]

    label = period_label(run.period)
    number = 0
    for member in member_totals(run):
        if member.tenant_id == hub_tenant.id or member.total_ore == 0:
            continue
        number += 1
        statement = member_statement(run, member.tenant_id)
        text = f"Kostnadsfördelning {label}, {statement.tenant_name} (körning {run.id})"
        credits = []
        for row in statement.rows:
            if row.amount_ore == 0:
                continue
            credits.append((accounts.revenue[0], -row.amount_ore, row.pool_name))
            if charge_vat:
                vat = vat_ore(row.amount_ore, accounts.vat_percent)
                vat_text = f"Moms {_percent_text(accounts.vat_percent)} %, {row.pool_name}"
                credits.append((accounts.vat[0], -vat, vat_text))
        debit = -sum(amount for _, amount, _ in credits)
        # No voucher number ("" in SIE 4): the finance system numbers imported vouchers in
        # its own series, so two files (two runs, two months) never collide.
        lines.append(f'#VER {quoted(accounts.series)} "" {day} {quoted(text)}')
        lines.append("{")
        lines.append(
            f"   #TRANS {accounts.receivable[0]} {{}} {sie_amount(debit)} {day} "
            f"{quoted(statement.tenant_name)}"
        )
        for account, amount, line_text in credits:
            lines.append(f"   #TRANS {account} {{}} {sie_amount(amount)} {day} {quoted(line_text)}")
        lines.append("}")
    # CP437 has å, ä, ö and é; anything it lacks becomes "?" rather than a failed export.
    return ("\r\n".join(lines) + "\r\n").encode(ENCODING, errors="replace")


def sie_filename(run: AllocationRun) -> str:
    return f"fakturor-{run.period}-korning-{run.id}.se"
