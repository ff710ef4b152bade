"""The members at a glance: e-services switched on and cases per month, counted in the
database (one grouped query per figure, so a million cases cost one index range scan),
and drawn as small bar charts the server renders as SVG.

Every function that reads members' rows takes the session `across_members` opened: the
read is audited there, not here.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.cases.models import Case
from samverkan.catalogue.fields import localized
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.clock import SWEDEN
from samverkan.templating import MONTHS
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import swedish_sort_key

MONTH_COUNT = 12


@dataclass(frozen=True)
class Month:
    start: date

    @property
    def name(self) -> str:
        """'mars 2026'."""
        return f"{MONTHS[self.start.month - 1]} {self.start.year}"

    @property
    def short(self) -> str:
        """'mar 2026', for table headings."""
        return f"{MONTHS[self.start.month - 1][:3]} {self.start.year}"

    @property
    def initial(self) -> str:
        return MONTHS[self.start.month - 1][0].upper()


def last_months(today: date, count: int = MONTH_COUNT) -> list[Month]:
    """The `count` calendar months up to and including today's, oldest first."""
    index = today.year * 12 + today.month - 1
    return [Month(date(i // 12, i % 12 + 1, 1)) for i in range(index - count + 1, index + 1)]


def _start_of(day: date) -> datetime:
    """Midnight in Sweden: a month's cases are those of Swedish dates, whatever the DST."""
    return datetime.combine(day, time.min, tzinfo=SWEDEN)


def cases_per_month(
    session: orm.Session, member_ids: list[int], months: list[Month]
) -> dict[int, list[int]]:
    """Cases each member received in each month, as one grouped query.

    The month is found with a CASE over the months' first moments (Swedish midnight, as
    UTC instants): the same SQL on SQLite and PostgreSQL, exact across daylight saving,
    and the (tenant_id, submitted_at) index serves the range."""
    last = months[-1].start
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    bounds = [_start_of(m.start) for m in months] + [_start_of(after)]
    bucket = sa.case(
        *((Case.submitted_at < bounds[i + 1], i) for i in range(len(months))),
        else_=len(months),
    ).label("month")
    inner = (
        sa.select(Case.tenant_id.label("tenant_id"), bucket)
        .where(
            Case.tenant_id.in_(member_ids),
            Case.submitted_at >= bounds[0],
            Case.submitted_at < bounds[-1],
        )
        .subquery()
    )
    # Grouped in an outer query: PostgreSQL would not see the CASE with its parameters in
    # SELECT and GROUP BY as the same expression.
    rows = session.execute(
        sa.select(inner.c.tenant_id, inner.c.month, sa.func.count()).group_by(
            inner.c.tenant_id, inner.c.month
        )
    ).all()
    counts = {member_id: [0] * len(months) for member_id in member_ids}
    for tenant_id, month, count in rows:
        counts[tenant_id][month] = count
    return counts


def services_switched_on(session: orm.Session) -> dict[int, int]:
    """How many e-services each member has switched on."""
    rows = session.execute(
        sa.select(TenantService.tenant_id, sa.func.count())
        .where(TenantService.enabled.is_(True))
        .group_by(TenantService.tenant_id)
    ).all()
    return dict(rows)


# The small charts: one per member, all on the same scale so they can be compared.
WIDTH, HEIGHT = 240, 112
PLOT_TOP, PLOT_BOTTOM = 14, 92
SLOT = 19
BAR = 13
LEFT = (WIDTH - SLOT * MONTH_COUNT) // 2


@dataclass
class Bar:
    x: int
    y: float
    width: int
    height: float
    count: int
    month: Month

    @property
    def title(self) -> str:
        return f"{self.month.name}: {self.count} {'ärende' if self.count == 1 else 'ärenden'}"


@dataclass
class Chart:
    label: str
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    baseline: int = PLOT_BOTTOM
    label_y: int = HEIGHT - 4
    slot: int = SLOT
    left: int = LEFT


def bar_chart(name: str, counts: list[int], months: list[Month], peak: int) -> Chart:
    """Bars for one member's months, scaled so `peak` (the largest of all members) fills
    the plot; the label says in words what the bars show, for the svg's aria-label."""
    scale = (PLOT_BOTTOM - PLOT_TOP) / max(peak, 1)
    bars = []
    for i, (count, month) in enumerate(zip(counts, months, strict=True)):
        height = round(count * scale, 1)
        bars.append(
            Bar(
                x=LEFT + i * SLOT + (SLOT - BAR) // 2,
                y=round(PLOT_BOTTOM - height, 1),
                width=BAR,
                height=height,
                count=count,
                month=month,
            )
        )
    total = sum(counts)
    busiest = max(bars, key=lambda b: b.count)
    label = (
        f"{name}: {total} ärenden från {months[0].name} till {months[-1].name}"
        + (f", flest i {busiest.month.name} ({busiest.count})" if total else "")
        + "."
    )
    return Chart(label=label, bars=bars, peak=peak)


@dataclass
class MemberFigures:
    member: Tenant
    services_on: int
    months: list[int]
    chart: Chart

    @property
    def total(self) -> int:
        return sum(self.months)


@dataclass
class Overview:
    months: list[Month]
    members: list[MemberFigures]
    peak: int
    monthly_totals: list[int]

    @property
    def total(self) -> int:
        return sum(self.monthly_totals)


def overview(session: orm.Session, members: list[Tenant], today: date) -> Overview:
    """Every member's figures for the hub's front page (members in the order given)."""
    months = last_months(today)
    counts = cases_per_month(session, [m.id for m in members], months)
    services = services_switched_on(session)
    peak = max((c for per in counts.values() for c in per), default=0)
    figures = [
        MemberFigures(
            member=m,
            services_on=services.get(m.id, 0),
            months=counts[m.id],
            chart=bar_chart(m.name, counts[m.id], months, peak),
        )
        for m in members
    ]
    totals = [sum(f.months[i] for f in figures) for i in range(len(months))]
    return Overview(months=months, members=figures, peak=peak, monthly_totals=totals)


@dataclass
class VersionRow:
    definition: ServiceDefinition
    members: list[tuple[Tenant, TenantService]]

    @property
    def title(self) -> str:
        return localized(self.definition.content["title"], "sv")


@dataclass
class ServiceVersions:
    slug: str
    versions: list[VersionRow]  # newest first

    @property
    def title(self) -> str:
        return self.versions[0].title

    @property
    def switches(self) -> list[tuple[Tenant, TenantService]]:
        """Every member with this e-service, by name (the ones a move can concern)."""
        found = [pair for row in self.versions for pair in row.members]
        return sorted(found, key=lambda pair: swedish_sort_key(pair[0].name))


def service_versions(session: orm.Session, members: list[Tenant]) -> list[ServiceVersions]:
    """Each e-service's published versions and which member runs which (one query for
    the versions, one for every member's switches)."""
    by_id = {m.id: m for m in members}
    running: dict[int, list] = {}
    for switch in session.scalars(sa.select(TenantService)):
        if switch.tenant_id in by_id:
            running.setdefault(switch.definition_id, []).append((by_id[switch.tenant_id], switch))
    services: dict[str, list[VersionRow]] = {}
    definitions = session.scalars(
        sa.select(ServiceDefinition).order_by(
            ServiceDefinition.slug, ServiceDefinition.version.desc()
        )
    )
    for definition in definitions:
        pairs = sorted(running.get(definition.id, []), key=lambda p: swedish_sort_key(p[0].name))
        services.setdefault(definition.slug, []).append(VersionRow(definition, pairs))
    found = [ServiceVersions(slug, rows) for slug, rows in services.items()]
    return sorted(found, key=lambda s: swedish_sort_key(s.title))
