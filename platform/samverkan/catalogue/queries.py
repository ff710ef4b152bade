"""Reading the catalogue for the bound tenant."""

import json

import sqlalchemy as sa
from flask import abort, g, make_response
from flask_babel import gettext as _

from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
from samverkan.extensions import db
from samverkan.memo import Memo
from samverkan.tenancy.request_session import bound_member_id
from samverkan.tenancy.snapshot import memory_will_do

_services = Memo("PUBLIC_PAGE_CACHE_SECONDS")


def enabled_services() -> list[TenantService]:
    """The bound tenant's switched-on e-services, by category order then title."""
    rows = db.session.scalars(
        sa.select(TenantService)
        .join(TenantService.definition)
        .join(ServiceDefinition.category)
        .where(TenantService.enabled.is_(True))
        .order_by(Category.position, Category.key, TenantService.service_slug)
    ).all()
    return rows


def get_enabled_service_or_404(slug: str) -> TenantService:
    """The bound member's switched-on e-service. A request that only reads (or whose route
    checks its writes itself, tenancy/snapshot.py) gets the worker's recent copy (memo.py):
    detached, loaded with its definition, read-only."""
    reading = memory_will_do()
    key = (bound_member_id(db.session), slug)
    service = _services.get(key) if reading else None
    if service is not None:
        return service
    service = db.session.scalar(
        sa.select(TenantService).where(
            TenantService.service_slug == slug, TenantService.enabled.is_(True)
        )
    )
    if service is None:
        _not_taking_cases(slug)
    if reading:
        # Never written through, and shared between threads: out of this request's session
        # with what it carries, so no commit or rollback here can expire it for the others.
        definition = service.definition
        for obj in (service, definition, definition.category):
            if obj in db.session:
                db.session.expunge(obj)
        _services.put(key, service)
    return service


def _not_taking_cases(slug: str):
    """404. For an e-service the member has but has switched off, with words saying so:
    a citizen in the middle of its form, or following an old link, is not told that the
    address is misspelt."""
    from samverkan.errors import error_response  # the errors module reads this one

    switched_off = db.session.scalar(
        sa.select(TenantService.service_slug).where(TenantService.service_slug == slug).limit(1)
    )
    if switched_off:
        message = _(
            "Den här e-tjänsten tar inte emot ärenden hos %(member)s just nu. Kontakta "
            "%(member)s om du behöver hjälp.",
            member=g.tenant.name,
        )
        closed = error_response(404, message, title=_("E-tjänsten tar inte emot ärenden"))
        abort(make_response(*closed))
    abort(404)


# Published definitions never change (a change is a new version), so their content can be
# kept for the life of the worker instead of decoding a definition's JSON per page. Shared
# between requests: read-only.
_contents: dict[int, dict] = {}


def _definition_contents(session, definition_ids) -> dict[int, dict]:
    """{definition id: its content} for those of the given ids that exist."""
    wanted = set(definition_ids)
    missing = wanted - _contents.keys()
    if missing:
        rows = session.execute(
            sa.select(ServiceDefinition.id, ServiceDefinition.content).where(
                ServiceDefinition.id.in_(missing)
            )
        )
        _contents.update((definition_id, content) for definition_id, content in rows)
    return {i: _contents[i] for i in wanted if i in _contents}


def definition_titles(session, definition_ids) -> dict[int, dict]:
    """{definition id: its title in every language} for the given ids."""
    return {i: c["title"] for i, c in _definition_contents(session, definition_ids).items()}


def definition_content(session, definition_id: int) -> dict:
    """A definition's content (its title, steps and fields)."""
    found = _definition_contents(session, (definition_id,))
    if definition_id not in found:
        raise LookupError(f"no definition {definition_id}")
    return found[definition_id]


_forms = Memo("KEYED_CACHE_SECONDS")


def form_for(service: TenantService) -> ServiceForm:
    """The e-service's form with the member's settings. A form depends on nothing else and
    is never changed once built, so the worker keeps it (and the schemas it builds) for
    the next request with the same definition and settings."""
    key = (service.definition_id, json.dumps(service.settings, sort_keys=True, default=str))
    form = _forms.get(key)
    if form is None:
        form = ServiceForm(service.definition.content, service.settings)
        _forms.put(key, form)
    return form
