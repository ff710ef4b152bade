"""The contact centre at the hub: Karlstad's citizen contact centre serves every member.

It finds a case by its reference and tells a caller where it stands (status and the
history the citizen sees, never the answers or internal notes), and registers a
submission on a caller's behalf (channel "assisted"). Every read of a member's data goes
through `across_members`, so the hub's log and the member's own log say who looked.
"""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import orm

from samverkan.access import hub
from samverkan.accounts.models import CONTACT_CENTRE, HUB_ADMIN
from samverkan.audit.models import AuditEntry
from samverkan.cases import operations, status
from samverkan.cases.models import Case, CaseEvent
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import FIELD_TYPES, localized
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db, limiter
from samverkan.hub.across import across_members
from samverkan.hub.views import bp
from samverkan.identity.prefill import needs_sign_in
from samverkan.links import external_url
from samverkan.outbox.mails import citizen_address
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import active_members
from samverkan.tenancy.scoping import ALL_TENANTS, TENANT_KEY, allow_all_tenants, bind_tenant

# Enough for a busy shift, too few to walk a member's series number by number.
SEARCH_LIMIT = "60 per hour"
REFERENCE = re.compile(r"^(?P<prefix>[A-Z]{3})-\d{4}-\d{6}$")
MALFORMED = (
    "Referensen ska se ut som ARV-2026-000001: kommunens tre bokstäver, året och "
    "ärendets nummer, med bindestreck emellan."
)
ASSISTED = "Registrerat av kontaktcenter för den som ringde."
NO_FILES_BY_PHONE = (
    "Kontaktcenter kan inte ta emot filer per telefon. Be den som ringer att använda "
    "e-tjänsten på webben för att skicka med filen."
)
RESULT_KEY = "contact_registered"


# -- finding a case -----------------------------------------------------------------------


class ReferenceSearch(Schema):
    reference = fields.String(
        data_key="referens",
        required=True,
        validate=validate.Regexp(REFERENCE, error=MALFORMED),
        error_messages={"required": "Skriv ärendets referens.", "invalid": MALFORMED},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        value = data.get("referens")
        if isinstance(value, str):
            data = {**data, "referens": value.strip().upper()}
        if not data.get("referens"):
            data = {k: v for k, v in data.items() if k != "referens"}
        return data


@dataclass
class FoundCase:
    """What the contact centre may tell a caller: where the case stands, no more."""

    reference: str
    member: str
    service: str
    status: str
    submitted_at: datetime
    updated_at: datetime
    history: list[dict] = field(default_factory=list)


def _per_user() -> str:
    """Searches count per agent, wherever they sit (the check runs after @hub)."""
    return f"user:{current_user.get_id() or request.remote_addr}"


@bp.route("/kontaktcenter", methods=["GET", "POST"])
@hub(CONTACT_CENTRE, HUB_ADMIN)
@limiter.limit(SEARCH_LIMIT, methods=["POST"], key_func=_per_user)
def contact_search():
    if request.method == "GET":
        return render_template("hub/contact_search.html", entered="", errors={}, searched=None)
    entered = request.form.get("referens", "")
    try:
        reference = ReferenceSearch(unknown=EXCLUDE).load(request.form.to_dict())["reference"]
    except ValidationError as exc:
        return render_template(
            "hub/contact_search.html", entered=entered, errors=exc.messages, searched=None
        ), 422
    return render_template(
        "hub/contact_search.html",
        entered=reference,
        errors={},
        searched=reference,
        found=find_case(reference),
    )


def find_case(reference: str) -> FoundCase | None:
    """The case with this reference at the member its prefix names, read through the one
    audited path; the search is logged whether anything is found or not."""
    prefix = REFERENCE.match(reference)["prefix"]
    member = db.session.scalar(sa.select(Tenant).where(Tenant.reference_prefix == prefix))
    detail = {"member": member.slug if member else None}
    with across_members("contact.case_found", reference, member=member, detail=detail) as owner:
        case = None
        if member is not None:
            case = owner.scalar(
                sa.select(Case).where(Case.tenant_id == member.id, Case.reference == reference)
            )
        found = case and FoundCase(
            reference=case.reference,
            member=member.name,
            service=localized(case.definition.content["title"], "sv"),
            status=status.label(case.status),
            submitted_at=case.submitted_at,
            updated_at=case.updated_at,
            history=[
                {"at": e.created_at, "status": status.label(e.status), "message": e.message}
                for e in reversed(case.events)
                if e.visible_to_citizen
            ],
        )
        owner.commit()
    return found or None


# -- registering a submission for a caller --------------------------------------------------


@dataclass
class Offer:
    """One of a member's switched-on e-services, as the contact centre can take it."""

    slug: str
    title: str
    definition_id: int
    form: ServiceForm
    file_fields: list[dict]
    refusal: str | None  # why it cannot be registered by phone, if it cannot

    @property
    def fields(self) -> list[dict]:
        return [spec for spec in self.form.all_fields() if spec["type"] != "file"]


def _offer(service: TenantService) -> Offer:
    form = ServiceForm(service.definition.content, service.settings)
    files = [spec for spec in form.all_fields() if spec["type"] == "file"]
    refusal = None
    required = [spec for spec in files if spec["required"] and not spec.get("show_if")]
    if needs_sign_in(form):
        # What the e-ID vouches for (a personnummer, a name) cannot be typed in for a
        # caller nobody has identified: the API refuses these e-services too.
        refusal = (
            "E-tjänsten kräver inloggning med e-legitimation, så den som ringer behöver "
            "använda den på webben."
        )
    elif required:
        names = ", ".join(localized(spec["label"], "sv").lower() for spec in required)
        refusal = f"E-tjänsten kräver en bifogad fil ({names}). {NO_FILES_BY_PHONE}"
    return Offer(
        slug=service.service_slug,
        title=localized(form.definition["title"], "sv"),
        definition_id=service.definition_id,
        form=form,
        file_fields=files,
        refusal=refusal,
    )


def member_offers(member: Tenant) -> list[Offer]:
    """The member's switched-on e-services (their settings are the member's: read across)."""
    with across_members("contact.services_read", member.slug, detail={"member": member.slug}) as s:
        services = s.scalars(
            sa.select(TenantService).where(
                TenantService.tenant_id == member.id, TenantService.enabled.is_(True)
            )
        ).all()
        offers = sorted((_offer(service) for service in services), key=lambda o: o.title)
        s.commit()
    return offers


def _choice_schema(members: list[Tenant], offers: list[Offer] | None) -> Schema:
    declared = {
        "member": fields.String(
            data_key="medlem",
            required=True,
            validate=validate.OneOf(
                [m.slug for m in members], error="Välj en av medlemmarna i listan."
            ),
            error_messages={"required": "Välj vilken kommun ärendet gäller."},
        )
    }
    if offers is not None:
        declared["service"] = fields.String(
            data_key="etjanst",
            required=True,
            validate=validate.OneOf(
                [o.slug for o in offers],
                error="Medlemmen har inte den e-tjänsten påslagen. Välj en i listan.",
            ),
            error_messages={"required": "Välj vilken e-tjänst ärendet gäller."},
        )
    return Schema.from_dict(declared, name="ContactChoice")(unknown=EXCLUDE)


def _load(schema: Schema, data: dict) -> tuple[dict, dict]:
    data = {k: v for k, v in data.items() if v != ""}
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        return {}, exc.messages


@bp.route("/kontaktcenter/registrera", methods=["GET", "POST"])
@hub(CONTACT_CENTRE, HUB_ADMIN)
def contact_register():
    """Three steps on one address: the member, then its e-service, then the form."""
    members = active_members()
    args = request.args.to_dict()
    chosen, errors = _load(_choice_schema(members, None), args)
    if "member" not in chosen:
        if "medlem" not in args:  # the page as it opens: nothing chosen, nothing wrong yet
            return render_template("hub/contact_choose.html", members=members, errors={})
        return render_template("hub/contact_choose.html", members=members, errors=errors), 422
    member = next(m for m in members if m.slug == chosen["member"])
    offers = member_offers(member)
    if "etjanst" in args:
        chosen, errors = _load(_choice_schema(members, offers), args)
    offer = next((o for o in offers if o.slug == chosen.get("service")), None)
    if offer is not None and offer.refusal:
        errors, offer = {"etjanst": [offer.refusal]}, None
    if offer is None:
        return render_template(
            "hub/contact_choose.html", members=members, member=member, offers=offers, errors=errors
        ), (422 if errors else 200)
    if request.method == "GET":
        return _render_form(member, offer, {}, {}, secrets.token_urlsafe(24))
    return _submit(member, offer)


def _render_form(member: Tenant, offer: Offer, values: dict, errors: dict, key: str):
    return render_template(
        "hub/contact_register.html",
        member=member,
        offer=offer,
        values=values,
        errors=errors,
        key=key,
        on_page=[spec["name"] for spec in offer.fields],
    )


class RegistrationKey(Schema):
    key = fields.String(
        data_key="registrering",
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{32}$"),
    )


def _submit(member: Tenant, offer: Offer):
    try:
        key = RegistrationKey(unknown=EXCLUDE).load(request.form.to_dict())["key"]
    except ValidationError:
        # Not a form this page made: start again with a fresh one.
        return redirect(url_for(".contact_register", medlem=member.slug, etjanst=offer.slug), 303)
    form = offer.form
    raw = {
        spec["name"]: FIELD_TYPES[spec["type"]].from_form(spec, request.form, request.files)
        for spec in offer.fields
    }
    result = form.validate_all(raw)  # every step at once, as the API does
    for spec in offer.file_fields:
        if spec["name"] in result.errors:  # a file the answers make necessary
            result.errors[spec["name"]] = [NO_FILES_BY_PHONE]
    if not result.ok:
        return _render_form(member, offer, raw, result.errors, key), 422
    try:
        registered = register(member, offer, result.answers, key)
    except operations.IdempotencyConflict as exc:
        errors = {
            "registrering": [
                f"Formuläret har redan skickats in med andra svar (ärende {exc.args[0]}). "
                "Börja om för att registrera ett nytt ärende."
            ]
        }
        return _render_form(member, offer, raw, errors, key), 409
    except ServiceChanged:
        errors = {
            "registrering": [
                "E-tjänsten ändrades medan formuläret fylldes i. Kontrollera svaren och "
                "skicka igen."
            ]
        }
        return _render_form(member, offer, raw, errors, secrets.token_urlsafe(24)), 409
    session[RESULT_KEY] = registered
    return redirect(url_for(".contact_registered"), 303)


class ServiceChanged(Exception):
    """The member switched the e-service off or moved it to another version meanwhile."""


@contextmanager
def _as_member(owner: orm.Session, member: Tenant) -> Iterator[None]:
    """Narrow the owner session to one member while the case is written: cases.operations
    works in a member's session (its queries scoped, its new rows, such as the receipt in
    the outbox, stamped with the member), exactly as for a citizen's submission."""
    owner.flush()
    owner.info.pop(ALL_TENANTS, None)
    bind_tenant(owner, member.id)
    try:
        yield
        owner.flush()
    finally:
        owner.info.pop(TENANT_KEY, None)
        allow_all_tenants(owner)


def register(member: Tenant, offer: Offer, answers: dict, key: str) -> dict:
    """Register the caller's answers as a case in the member's series, channel "assisted",
    audited in the hub's log and the member's; returns what to read to the caller."""
    with across_members(
        "contact.submission_registered",
        f"{member.reference_prefix}/{offer.slug}",
        member=member,
        detail={"service": offer.slug},
    ) as owner:
        # The entries should name the case, whose reference is only taken below: hold
        # them back until it is known (they are added in this same transaction).
        entries = [obj for obj in owner.new if isinstance(obj, AuditEntry)]
        for entry in entries:
            owner.expunge(entry)
        tenant = owner.get(Tenant, member.id)
        with _as_member(owner, tenant):
            service = owner.scalar(
                sa.select(TenantService).where(
                    TenantService.service_slug == offer.slug, TenantService.enabled.is_(True)
                )
            )
            if service is None or service.definition_id != offer.definition_id:
                raise ServiceChanged(offer.slug)
            try:
                submission = operations.submit_case(
                    owner,
                    tenant,
                    service,
                    offer.form,
                    answers,
                    channel="assisted",
                    upload_root=Path(current_app.config["UPLOAD_ROOT"]),
                    idempotency_key=f"assisted:{key}",
                )
            except operations.ServiceClosed as exc:
                raise ServiceChanged(offer.slug) from exc
            case = submission.case
            if submission.created:
                received = owner.scalar(
                    sa.select(CaseEvent).where(
                        CaseEvent.case_id == case.id, CaseEvent.kind == "submitted"
                    )
                )
                received.message = ASSISTED
                received.author_id = current_user.id
        for entry in entries:
            entry.object_ref = case.reference
            owner.add(entry)
        registered = {
            "reference": case.reference,
            "member": tenant.name,
            "service": offer.title,
            "status_url": external_url(
                "citizen.status", tenant=tenant.slug, token=case.status_token
            ),
            "receipt_to": citizen_address(case),
            # Held by the limit per recipient (mails.case_receipt): the agent must not
            # promise the caller a mail that is not coming.
            "receipt_held": bool(g.get("receipt_held")),
        }
        owner.commit()
    return registered


@bp.get("/kontaktcenter/registrerat")
@hub(CONTACT_CENTRE, HUB_ADMIN)
def contact_registered():
    # Shown once: the status link is the caller's private key to their case.
    registered = session.pop(RESULT_KEY, None)
    if registered is None:
        return redirect(url_for(".contact_register"), 303)
    return render_template("hub/contact_registered.html", registered=registered)
