"""Reading a member's cases for its staff: the inbox, filtered and paged by a keyset.

The cursor is the (submitted_at, id) of the last case on a page; the next page is the
cases strictly before it, newest first. It is served by the (tenant_id, [status |
service_slug,] submitted_at, id) indexes (and a partial one for the cases with an unread
completion), so page 1000 costs what page 1 does.
"""

import base64
import binascii
import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import orm

from samverkan import direct_sql
from samverkan.accounts.models import User
from samverkan.cases import status
from samverkan.cases.models import Case
from samverkan.catalogue.fields import WrittenDate, localized
from samverkan.catalogue.models import TenantService
from samverkan.catalogue.queries import definition_titles
from samverkan.clock import SWEDEN
from samverkan.memo import Memo
from samverkan.tenancy.request_session import bound_member_id
from samverkan.tenancy.scoping import bound_tenant_id, tenant_connection
from samverkan.translatable import N_

_service_choices = Memo("PUBLIC_PAGE_CACHE_SECONDS")
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
EXPORT_LIMIT = 50_000


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.submitted_at.astimezone(UTC).isoformat(), case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, int]:
    """The position a cursor names; ValueError when it is not one of ours."""
    try:
        padded = value + "=" * (-len(value) % 4)
        moment, case_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(moment)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if at.tzinfo is None or not isinstance(case_id, int) or isinstance(case_id, bool):
        raise ValueError("not a cursor")
    # Ours name a moment a case was made and a row's id: anything else (year 1, an id
    # beyond the column's integer) would fail in the database, not here.
    if not (_EARLIEST <= at <= _LATEST and 0 <= case_id <= _LARGEST_ID):
        raise ValueError("not a cursor")
    return at, case_id


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2101, 1, 1, tzinfo=UTC)
_LARGEST_ID = 2**31 - 1  # INTEGER on PostgreSQL


class Cursor(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return decode_cursor(text)
        except ValueError as exc:
            raise ValidationError(N_("Ogiltig sidmarkör: börja om från första sidan.")) from exc


# A day's bounds in Swedish time, and the day after the last, must be datetimes a
# database takes: year 1 or 9999 overflow (a 500, or an export cut off mid-download).
_SENSIBLE_DAY = validate.Range(
    min=date(2000, 1, 1),
    max=date(2100, 12, 31),
    error=N_("Välj ett datum mellan 2000-01-01 och 2100-12-31."),
)


class InboxFilterSchema(Schema):
    """What the inbox (HTML and API) can be filtered by. Empty values mean no filter."""

    status = fields.String(
        load_default=None,
        validate=validate.OneOf(status.ALL, error=N_("Okänd status: välj en i listan.")),
    )
    service = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[a-z0-9-]{1,60}$", error=N_("Okänd e-tjänst.")),
    )
    submitted_from = WrittenDate(
        load_default=None,
        error_messages={"invalid": N_("Skriv datumet som ÅÅÅÅ-MM-DD.")},
        validate=_SENSIBLE_DAY,
    )
    submitted_to = WrittenDate(
        load_default=None,
        error_messages={"invalid": N_("Skriv datumet som ÅÅÅÅ-MM-DD.")},
        validate=_SENSIBLE_DAY,
    )
    assigned = fields.String(
        load_default=None,
        validate=validate.OneOf(("me", "nobody"), error=N_("Välj mina eller ej tilldelade.")),
    )
    news = fields.String(
        load_default=None,
        validate=validate.OneOf(("completion",), error=N_("Välj ny komplettering eller alla.")),
    )
    cursor = Cursor(load_default=None)
    limit = fields.Integer(
        load_default=PAGE_SIZE,
        validate=validate.Range(1, MAX_PAGE_SIZE, error=N_("Välj mellan 1 och 100 per sida.")),
        error_messages={"invalid": N_("Välj mellan 1 och 100 per sida.")},
    )

    @validates_schema
    def _dates_in_order(self, data, **kwargs):
        start, end = data.get("submitted_from"), data.get("submitted_to")
        if start and end and start > end:
            raise ValidationError(N_("Slutdatumet ligger före startdatumet."), "submitted_to")


_FILTERS = InboxFilterSchema()  # made once: a schema's making costs more than its loading


def load_filters(args, session: orm.Session) -> dict:
    """The filters from a query string, empty fields dropped; raises ValidationError. An
    e-service the member has never had is refused (a typo listed nothing, as if none of
    its cases had come in)."""
    present = {name: value for name, value in args.items() if value not in ("", None)}
    if not present:  # the inbox as it opens: the schema's defaults, loaded once
        return dict(_no_filters())
    filters = _FILTERS.load(present, unknown="exclude")
    service = filters.get("service")
    if service and service not in dict(service_choices(session)):
        raise ValidationError({"service": [N_("Okänd e-tjänst: välj en av dem i listan.")]})
    return filters


@functools.cache
def _no_filters() -> dict:
    return _FILTERS.load({})


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SWEDEN)


def _matching(filters: dict, user_id: int | None) -> tuple[tuple[str, ...], dict]:
    """Which conditions the filters (and a cursor) make, and their values by name."""
    shape, values = [], {}
    if filters.get("status"):
        shape.append("status")
        values["status"] = filters["status"]
    if filters.get("service"):
        shape.append("service")
        values["service"] = filters["service"]
    if filters.get("submitted_from"):
        shape.append("submitted_from")
        values["submitted_from"] = _start_of(filters["submitted_from"])
    if filters.get("submitted_to"):
        shape.append("submitted_to")
        values["submitted_before"] = _start_of(filters["submitted_to"] + timedelta(days=1))
    if filters.get("assigned") == "me":
        shape.append("mine")
        values["assignee"] = user_id
    elif filters.get("assigned") == "nobody":
        shape.append("unassigned")
    if filters.get("news") == "completion":
        shape.append("unread_completion")
    if filters.get("cursor"):
        shape.append("cursor")
        values["cursor_at"], values["cursor_id"] = filters["cursor"]
    return tuple(shape), values


_CASES = Case.__table__
# Each condition a filter (or the cursor) makes, with bind parameters named as _matching's.
_CONDITIONS = {
    "status": lambda: _CASES.c.status == sa.bindparam("status"),
    "service": lambda: _CASES.c.service_slug == sa.bindparam("service"),
    "submitted_from": lambda: _CASES.c.submitted_at >= sa.bindparam("submitted_from"),
    "submitted_to": lambda: _CASES.c.submitted_at < sa.bindparam("submitted_before"),
    "mine": lambda: _CASES.c.assigned_to_id == sa.bindparam("assignee"),
    "unassigned": lambda: _CASES.c.assigned_to_id.is_(None),
    "unread_completion": lambda: _CASES.c.unread_completion_at.is_not(None),
    # The keyset: strictly older than the last case of the page before.
    "cursor": lambda: (
        sa.tuple_(_CASES.c.submitted_at, _CASES.c.id)
        < sa.tuple_(
            sa.bindparam("cursor_at", type_=_CASES.c.submitted_at.type),
            sa.bindparam("cursor_id", type_=sa.Integer),
        )
    ),
}


def _conditions(shape: tuple[str, ...]) -> list:
    return [_CONDITIONS[name]() for name in shape]


_NEWEST_FIRST = (_CASES.c.submitted_at.desc(), _CASES.c.id.desc())


def filtered(filters: dict, user_id: int | None = None) -> sa.Select:
    """The member's cases that match, newest first (the bound tenant is added by the ORM)."""
    shape, values = _matching(filters, user_id)
    query = sa.select(Case).where(*_conditions(shape)).order_by(*_NEWEST_FIRST)
    return query.params(values) if values else query


@dataclass
class Page:
    cases: list  # Case objects (inbox_page) or the inbox's rows (inbox_listing)
    next_cursor: str | None
    filters: dict = field(default_factory=dict)


def inbox_page(session: orm.Session, filters: dict, user_id: int | None = None) -> Page:
    """A page of the member's cases, each with its definition (the API, the export)."""
    # Each row names one of a few definitions: fetch those once, not a copy of the whole
    # definition (kilobytes of JSON to decode) joined onto every row.
    query = filtered(filters, user_id).options(orm.selectinload(Case.definition))
    limit = filters.get("limit") or PAGE_SIZE
    return _page(session.scalars(query.limit(limit + 1)).all(), limit, filters)


def inbox_listing(
    session: orm.Session | sa.Connection, filters: dict, user_id: int | None = None
) -> Page:
    """A page of the inbox: rows of the columns it shows (id, reference, definition_id,
    status, submitted_at, unread_completion_at, assignee: the assigned case worker's name
    or None), read on the session's connection or on a member's own
    (scoping.member_transaction). One Core statement per combination of filters, made
    once, naming the bound member itself (tenant_connection refuses when none is bound; on
    PostgreSQL row-level security holds too): building Case objects through the ORM, and
    loading each assignee, was most of the page's reading."""
    connection, tenant_id = tenant_connection(session)
    shape, values = _matching(filters, user_id)
    limit = filters.get("limit") or PAGE_SIZE
    params = {**values, "tenant_id": tenant_id, "limit": limit + 1}
    if connection.dialect.name == "postgresql":  # the busiest staff page: the driver's cursor
        rows = direct_sql.fetch_all(connection, _listing(shape), params)
    else:
        rows = connection.execute(_listing(shape), params).all()
    return _page(rows, limit, filters)


@functools.cache
def _listing(shape: tuple[str, ...]) -> sa.Select:
    cases, users = _CASES, User.__table__
    return (
        sa.select(
            cases.c.id,
            cases.c.reference,
            cases.c.definition_id,
            cases.c.status,
            cases.c.submitted_at,
            cases.c.unread_completion_at,
            users.c.name.label("assignee"),
        )
        .select_from(cases.outerjoin(users, users.c.id == cases.c.assigned_to_id))
        .where(cases.c.tenant_id == sa.bindparam("tenant_id"), *_conditions(shape))
        .order_by(*_NEWEST_FIRST)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def _page(rows: list, limit: int, filters: dict) -> Page:
    more = len(rows) > limit
    cases = list(rows[:limit])
    return Page(cases, encode_cursor(cases[-1]) if more else None, filters)


def for_export(session: orm.Session, filters: dict, user_id: int | None = None):
    """Every matching case (up to EXPORT_LIMIT), newest first, read page by page with the
    same keyset as the inbox so memory stays flat however many there are."""
    batch = {**filters, "cursor": None, "limit": 500}
    sent = 0
    while sent < EXPORT_LIMIT:
        page = inbox_page(session, batch, user_id)
        yield from page.cases[: EXPORT_LIMIT - sent]
        sent += len(page.cases)
        session.expunge_all()  # what was written out need not stay in memory
        if page.next_cursor is None:
            return
        batch["cursor"] = decode_cursor(page.next_cursor)


FILTER_NAMES = frozenset(_FILTERS.fields)


def find_by_reference(
    session: orm.Session, reference: str, *, for_update: bool = False
) -> Case | None:
    """The member's case with this reference. `for_update` locks its row until the request
    commits, so two people changing one case at once take turns (PostgreSQL; SQLite holds
    the whole database for a writing request)."""
    if not reference or len(reference) > 20:
        return None
    # Not its definition's content (kilobytes of JSON to decode): the case page takes it
    # from the worker's memory (catalogue.queries.definition_content); others load it.
    query = (
        sa.select(Case).where(Case.reference == reference).options(orm.lazyload(Case.definition))
    )
    if for_update:
        query = query.with_for_update(of=Case)
    return session.scalar(query)


def service_choices(session: orm.Session, lang: str = "sv") -> tuple[tuple[str, str], ...]:
    """(slug, title in `lang`) of every e-service the member has had, switched on or not:
    cases of a service switched off are still in the inbox. The worker keeps them for a
    while (a change to a member's e-services forgets them, memo.py): every inbox page
    shows them."""
    member_id = (
        bound_member_id(session)
        if isinstance(session, orm.scoped_session)
        else bound_tenant_id(session)
    )
    key = (member_id, lang)
    choices = _service_choices.get(key) if member_id is not None else None
    if choices is None:
        services = session.execute(
            sa.select(TenantService.service_slug, TenantService.definition_id)
        ).all()
        titles = definition_titles(session, [definition_id for _, definition_id in services])
        choices = tuple(
            sorted(
                (
                    (slug, localized(titles[definition_id], lang))
                    for slug, definition_id in services
                ),
                key=lambda choice: choice[1],
            )
        )
        if member_id is not None:
            _service_choices.put(key, choices)
    return choices
