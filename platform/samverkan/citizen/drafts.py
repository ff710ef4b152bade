"""Which draft belongs to this browser: its id is kept in the signed session cookie."""

import hashlib

from flask import g, session

from samverkan.cases import operations
from samverkan.cases.models import Draft
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db


def _key(service_slug: str) -> str:
    return f"{g.tenant.id}:{service_slug}"


def remembered_draft_id(service_slug: str) -> str | None:
    return session.get("drafts", {}).get(_key(service_slug))


def current_draft(service: TenantService) -> Draft | None:
    draft = operations.find_draft(
        db.session, remembered_draft_id(service.service_slug), service.service_slug
    )
    if draft is not None and draft.definition_id != service.definition_id:
        return None  # the member moved to a new version: start again on that one
    return draft


def claim_draft(service: TenantService):
    """This browser's completed draft, taken out of the drafts for submitting
    (operations.claim_draft): the request's rollback gives it back."""
    return operations.claim_draft(db.session, remembered_draft_id(service.service_slug), service)


def draft_for_writing(service: TenantService) -> Draft:
    draft = current_draft(service)
    if draft is None:
        draft = operations.start_draft(db.session, service)
        drafts = dict(session.get("drafts", {}))
        drafts[_key(service.service_slug)] = draft.id
        session["drafts"] = drafts
    return draft


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def remember_receipt(token: str) -> None:
    """This browser submitted the case, so its receipt may show the answers."""
    session["receipts"] = ([*session.get("receipts", []), _digest(token)])[-5:]


def submitted_here(token: str) -> bool:
    """Whoever else holds the status link sees the status, not the answers."""
    return _digest(token) in session.get("receipts", [])
