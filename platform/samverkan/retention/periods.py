"""Which retention period applies to a case, and when it has passed.

Periods are whole months, as a dokumenthanteringsplan states them ("gallras efter 2 år",
"efter 6 månader"); days would invite false precision. A period is the member's to decide:
an e-service's own period overrides the member's default, and with neither set nothing is
thinned. The catalogue's `retention_years` is only shown as the hub's suggestion.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from samverkan.clock import SWEDEN
from samverkan.tenancy.models import Tenant

MAX_MONTHS = 1200  # a hundred years; longer is "bevaras" (kept), which is no period at all

SERVICE = "service"
MEMBER = "member"


@dataclass(frozen=True)
class Period:
    """The months that apply and where they were set (SERVICE, MEMBER), or None for both
    when no period is set."""

    months: int | None
    source: str | None

    @property
    def is_set(self) -> bool:
        return self.months is not None

    def describe(self) -> str:
        """For pages, in their language: '24 månader (e-tjänstens frist)'."""
        if self.months is None:
            return gettext("Ingen gallringsfrist är beslutad")
        if self.source == SERVICE:
            return gettext("%(months)s (e-tjänstens frist)", months=months_text(self.months))
        return gettext("%(months)s (kommunens frist)", months=months_text(self.months))


def months_text(months: int) -> str:
    """'1 månad', '18 månader', '24 månader (2 år)'."""
    text = ngettext("%(num)d månad", "%(num)d månader", months)
    if months % 12 == 0:
        text += " " + ngettext("(%(num)d år)", "(%(num)d år)", months // 12)
    return text


def period_for(tenant: Tenant, service_slug: str) -> Period:
    override = (tenant.retention_by_service or {}).get(service_slug)
    if override is not None:
        return Period(int(override), SERVICE)
    if tenant.retention_months is not None:
        return Period(tenant.retention_months, MEMBER)
    return Period(None, None)


def months_before(moment: datetime, months: int) -> datetime:
    """The same Swedish wall-clock time `months` calendar months earlier (the 31st becomes
    the month's last day), as UTC."""
    local = moment.astimezone(SWEDEN)
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    moved = local.replace(year=year, month=month + 1, day=day)
    if moved.astimezone(UTC).astimezone(SWEDEN).replace(tzinfo=None) != moved.replace(tzinfo=None):
        # A wall-clock time the spring change skips (02:00–03:00 on its Sunday): the first
        # moment after the gap, 03:00, as months_after of a case closed then gives. Read
        # as the hour before instead, a case closed at 03:15 could be thinned an hour
        # before the day its extract promised.
        moved = moved.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return moved.astimezone(UTC)


def months_after(moment: datetime, months: int) -> datetime:
    """`months` calendar months later, in Swedish time, as UTC."""
    return months_before(moment, -months)


def has_passed(closed_at: datetime | None, months: int, now: datetime) -> bool:
    """Whether a case closed at `closed_at` is past a period of `months` at `now`: it was
    closed before the moment `months` earlier. An open case never is."""
    return closed_at is not None and closed_at < months_before(now, months)


# -- what people type ---------------------------------------------------------------------

WHOLE_MONTHS = _l("Skriv gallringsfristen som ett helt antal månader, till exempel 24.")


class Months(fields.Integer):
    """A retention period in whole months, 1–1200. From a form it must be digits only, so
    '2 år' or '24,5' is refused with a message instead of being read as something else.
    Its messages are worded when shown, in the page's language (_l)."""

    def __init__(self, **kwargs):
        super().__init__(
            strict=False,
            allow_none=True,
            load_default=None,
            validate=validate.Range(
                min=1,
                max=MAX_MONTHS,
                error=_l("Gallringsfristen ska vara 1–%(most)d månader.", most=MAX_MONTHS),
            ),
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip()
            if not (value.isascii() and value.isdigit()):
                raise ValidationError(str(WHOLE_MONTHS))
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(str(WHOLE_MONTHS))
        return super()._deserialize(value, attr, data, **kwargs)


class MonthsSchema(Schema):
    """One period from a form; empty means 'not set'."""

    retention_months = Months()

    @pre_load
    def _blank_is_none(self, data, **kwargs):
        value = data.get("retention_months")
        if isinstance(value, str) and not value.strip():
            value = None
        return {**data, "retention_months": value}


def load_months(text: str | None) -> int | None:
    """A period typed in a form; raises ValidationError with a message for the page."""
    return MonthsSchema().load({"retention_months": text})["retention_months"]
