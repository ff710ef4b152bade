"""Which draft belongs to this browser: its id is kept in the signed session cookie."""

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, flash, g, session
from flask_babel import gettext as _
from marshmallow import ValidationError, validate

from samverkan.cases import operations
from samverkan.cases.models import Draft
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.catalogue.queries import form_for
from samverkan.extensions import db
from samverkan.outbox.addresses import NOT_DELIVERABLE, deliverable


def _key(service_slug: str) -> str:
    return f"{g.tenant.id}:{service_slug}"


def remembered_draft_id(service_slug: str) -> str | None:
    return session.get("drafts", {}).get(_key(service_slug))


def current_draft(service: TenantService) -> Draft | None:
    draft = operations.find_draft(
        db.session, remembered_draft_id(service.service_slug), service.service_slug
    )
    if draft is not None and draft.definition_id != service.definition_id:
        carry_over(draft, service)
    return draft


def carry_over(draft: Draft, service: TenantService) -> None:
    """The member moved to a new version of the e-service since the draft was begun: the
    answers it still accepts follow (operations.carry_over_draft), and the citizen is told
    to check them. Committed here, whatever the request goes on to do: a page that only
    shows the draft must not carry it over again each time, nor the next click find it on
    the old version."""
    old = ServiceForm(
        db.session.get(ServiceDefinition, draft.definition_id).content, service.settings
    )
    upload_root = Path(current_app.config["UPLOAD_ROOT"])
    lost = operations.carry_over_draft(
        db.session, draft, old, form_for(service), service.definition_id, upload_root
    )
    db.session.commit()
    if lost:
        flash(
            _(
                "E-tjänsten har ändrats sedan du började fylla i den. Dina svar har följt "
                "med där frågorna är desamma, men några är nya eller ändrade: svara på dem "
                "igen och kontrollera svaren innan du skickar in."
            )
        )
    else:
        flash(
            _(
                "E-tjänsten har ändrats sedan du började fylla i den. Dina svar har följt med: "
                "kontrollera dem innan du skickar in."
            )
        )


def claim_draft(service: TenantService, connection=None):
    """This browser's completed draft, taken out of the drafts for submitting
    (operations.claim_draft), in the request's session or the member's own transaction
    (`connection`): its rollback gives it back."""
    draft_id = remembered_draft_id(service.service_slug)
    return operations.claim_draft(
        db.session if connection is None else connection, draft_id, service
    )


def draft_for_writing(service: TenantService) -> Draft:
    draft = current_draft(service)
    if draft is None:
        lifetime = timedelta(days=g.tenant.draft_days or 30)  # the member's own period
        draft = operations.start_draft(db.session, service, lifetime=lifetime)
        bind(service.service_slug, draft)
    return draft


def bind(service_slug: str, draft: Draft, resume_token: str | None = None) -> None:
    """This browser now works on `draft` (opened from its resume link: `resume_token`)."""
    drafts = dict(session.get("drafts", {}))
    earlier = drafts.get(_key(service_slug))
    if earlier is not None and earlier != draft.id:
        _keep_as_sent(earlier)
    drafts[_key(service_slug)] = draft.id
    session["drafts"] = drafts
    links = dict(session.get("resume_links", {}))
    links.pop(_key(service_slug), None)
    if resume_token:
        links[_key(service_slug)] = resume_token
    session["resume_links"] = links


def take_up_plan(old_token: str, *, make: bool) -> tuple[str, str] | None:
    """The id and link a draft gets when this browser takes it up from `old_token`: chosen
    when the page that asks is shown (`make`) and kept in the session, so that a second
    click on its button, sent with that page's cookie, takes up the same draft under the
    same id instead of finding its link gone."""
    key = _digest(old_token)[:16]
    plan = session.get("take_up", {}).get(key)
    if plan is None and make:
        plan = [secrets.token_urlsafe(24), secrets.token_urlsafe(32)]
        session["take_up"] = {key: plan}  # the latest only
    return tuple(plan) if plan else None


def forget(service_slug: str) -> None:
    """This browser no longer works on a draft of the e-service (it was thrown away)."""
    key = _key(service_slug)
    for name in ("drafts", "resume_links"):
        kept = dict(session.get(name, {}))
        if (dropped := kept.pop(key, None)) is not None:
            session[name] = kept
            if name == "drafts":
                _keep_as_sent(dropped)


def resume_token_for(service_slug: str, draft: Draft) -> str:
    """The draft's private resume link token. The one this browser already holds for it
    (made here earlier, or the link it was opened with) while it is still the draft's;
    otherwise a new one, which replaces the draft's earlier link (only its digest is
    stored, so an old token cannot be shown again). The caller commits."""
    token = session.get("resume_links", {}).get(_key(service_slug))
    if token and draft.resume_digest == operations.resume_digest(token):
        return token
    token = operations.new_resume_token(draft)
    links = dict(session.get("resume_links", {}))
    links[_key(service_slug)] = token
    session["resume_links"] = links
    return token


def forget_this_browsers() -> bool:
    """This browser no longer holds any draft, resume link or receipt: someone else signs in
    here, or the e-ID sign-in they were made under has ended. True if it held a draft."""
    had_drafts = bool(session.get("drafts"))
    for key in ("drafts", "resume_links", "receipts", "take_up"):
        session.pop(key, None)
    return had_drafts


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# The sent cases a browser keeps showing the answers of, after it has moved on to others.
RECEIPTS_KEPT = 5


def _keep_as_sent(draft_id: str) -> None:
    """The browser lets go of a draft id (it moves on to another draft of the e-service, or
    starts over): if the draft was sent, its case's receipt still shows the answers here
    (submitted_here). The digest of a draft that was never sent matches no case."""
    kept = [*session.get("receipts", []), _digest(web_key(draft_id))]
    session["receipts"] = kept[-RECEIPTS_KEPT:]


def web_key(draft_id: str) -> str:
    """The idempotency key of the case a web submission registers from a draft."""
    return f"web:{draft_id}"


def submitted_here(case, token: str) -> bool:
    """Whether this browser sent `case` (whose status link is `token`): whoever else holds
    the link sees the status, not the answers. The browser that sent it still holds the
    draft's id in its session, so a submission need not write the cookie again (signing
    and sending it was about a fifteenth of a web submission's instructions,
    tests/bench/RESULTS.md); an id it has let go of is among its receipts. A receipt
    remembered by its status link is one from before that (a cookie from an earlier
    release). The session is signed, so the id in it is one this site gave out."""
    key = case.idempotency_key
    held = session.get("drafts", {}).get(f"{case.tenant_id}:{case.service_slug}")
    if key is not None and held is not None and key == web_key(held):
        return True
    receipts = session.get("receipts", [])
    return (key is not None and _digest(key) in receipts) or _digest(token) in receipts


def address_error(text: str) -> str | None:
    """Why an e-mail address for the resume link cannot be used, or None."""
    if not text:
        return _("Fyll i din e-postadress.")
    if len(text) > 254:
        return _("E-postadressen får vara högst 254 tecken.")
    try:
        validate.Email()(text)
    except ValidationError:
        return _("Skriv e-postadressen som namn@exempel.se.")
    if not deliverable(text):
        return str(NOT_DELIVERABLE)
    return None
