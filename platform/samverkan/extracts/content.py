"""What a register extract holds, for the citizen's own link or for staff.

Everything stored about the person in the case: the answers with their labels, the
attachments (name, type, size), the history and messages the citizen can see, the dates,
the member as controller (only the contact details it has recorded), the purpose and legal
basis when the e-service's definition states them, and the retention period.

Two audiences, two rules:
- The citizen's status link is a bearer link sent by e-mail, so it shows the answers and
  file names only in the browser that submitted the case, as the receipt does; elsewhere
  it says which answers are stored and how to ask the member for them.
- Staff make the complete extract for a citizen who asks (after checking who they are).
  It also holds the internal notes: they are personal data about the person too, but a
  note may be covered by secrecy (offentlighets- och sekretesslagen; dataskyddslagen
  5 kap. 1 §), so each is marked for the case worker to review before sending. The
  citizen's own link never shows them.
"""

from datetime import datetime

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import orm

from samverkan.cases import status
from samverkan.cases.models import Case
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import localized
from samverkan.i18n import current_language
from samverkan.outbox.models import SENT, OutboxMessage
from samverkan.retention.periods import MEMBER, months_after, months_text, period_for
from samverkan.tenancy.models import Tenant

CITIZEN = "citizen"
STAFF = "staff"

CHANNELS = {
    "web": _l("Du lämnade uppgifterna i e-tjänsten på webben."),
    "api": _l("Uppgifterna kom in genom e-tjänsten via ett annat system (API)."),
    "assisted": _l("Uppgifterna registrerades av kontaktcenter när du hörde av dig."),
}
EVENT_KINDS = {
    "submitted": _l("Inkommet"),
    "status_changed": _l("Status ändrad"),
    "message": _l("Meddelande"),
    "completion": _l("Din komplettering"),
    "note": _l("Intern anteckning"),
}
# What a file sent later, with a completion, answers (in place of a form's question).
SENT_WITH_COMPLETION = _l("Skickad med din komplettering")
RIGHTS = _l(
    "Du har rätt att begära att felaktiga uppgifter rättas, att uppgifter raderas eller att "
    "behandlingen begränsas, och att invända mot behandlingen, i den mån lagen medger det. "
    "Kontakta %(name)s. Du kan också klaga hos Integritetsskyddsmyndigheten (IMY)."
)


def controller(tenant: Tenant) -> dict:
    """The member as controller: its name, and only the contact details it has recorded."""
    found = {
        "name": tenant.name,
        "orgnr": tenant.orgnr,
        "website": tenant.website,
        "email": tenant.email,
        "phone": tenant.phone,
        "visiting_address": tenant.visiting_address,
        # Every member publishes one (citizen/views.py).
        "privacy_notice_url": url_for("citizen.privacy_notice", tenant=tenant.slug, _external=True),
    }
    return {key: value for key, value in found.items() if value}


def retention(tenant: Tenant, case: Case) -> dict:
    period = period_for(tenant, case.service_slug)
    found = {"months": period.months, "set_for": None, "thinned_from": None}
    if not period.is_set:
        found["description"] = _(
            "%(name)s har inte beslutat någon gallringsfrist för e-tjänsten här; "
            "uppgifterna bevaras tills en frist är beslutad.",
            name=tenant.name,
        )
        return found
    found["set_for"] = "kommunen" if period.source == MEMBER else "e-tjänsten"
    found["description"] = _(
        "Personuppgifterna i ärendet gallras %(period)s efter att ärendet avslutats.",
        period=months_text(period.months),
    )
    if case.closed_at is not None:
        found["thinned_from"] = months_after(case.closed_at, period.months)
    return found


def _answers(case: Case, form: ServiceForm, shown: bool, lang: str) -> tuple[list, list]:
    """(steps with their answered rows, attachments). A withheld value is None."""
    answers = form.from_json(case.answers)
    steps = []
    for step in form.summary(answers, lang):
        rows = [
            {
                "name": row["name"],
                "label": row["label"],
                "value": row["value"] if shown else None,
            }
            for row in step["rows"]
            if answers.get(row["name"]) not in (None, "", [])
        ]
        if rows:
            steps.append({"title": step["title"], "rows": rows})
    attachments = [
        {
            "field": attachment.field_name,
            "label": localized(form.fields.get(attachment.field_name, {}).get("label"), lang)
            if attachment.event_id is None
            else str(SENT_WITH_COMPLETION),
            "filename": attachment.filename if shown else None,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "received_at": attachment.created_at,
        }
        for attachment in case.attachments
    ]
    return steps, attachments


def _history(case: Case, audience: str, lang: str) -> list[dict]:
    rows = []
    for event in case.events:
        internal = not event.visible_to_citizen
        if internal and (audience != STAFF or event.kind != "note"):
            # Assignments are about the staff, not the person; notes only for staff.
            continue
        rows.append(
            {
                "at": event.created_at,
                "what": str(EVENT_KINDS.get(event.kind, event.kind)),
                "status": event.status,
                "status_label": status.label(event.status, lang),
                "message": status.history_text(event.message, lang),
                "internal": internal,
                # Whose words (the page marks their language: the citizen's and messages
                # in the case's, internal notes Swedish), None for the platform's.
                "written_by": _written_by(event),
            }
        )
    return rows


def _written_by(event) -> str | None:
    if not event.message or status.written_by_platform(event.message):
        return None
    return {"completion": "citizen", "note": "note"}.get(event.kind, "staff")


def _e_mails(case: Case, answers_shown: bool) -> list[dict]:
    """The e-mails about the case (its receipt, messages to the applicant), oldest first.
    The address is the applicant's: withheld where the answers are (a status link held by
    someone else). Thinning deletes them with the rest."""
    session = orm.object_session(case)
    found = session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.event_key.startswith(f"case:{case.reference}:", autoescape=True))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    return [
        {
            "at": message.created_at,
            "to": message.recipient if answers_shown else None,
            "subject": message.subject,
            "sent": message.status == SENT,
            "sent_at": message.sent_at,
        }
        for message in found
    ]


def build(case: Case, tenant: Tenant, *, audience: str, answers_shown: bool, now: datetime):
    """The extract as plain data (datetimes as such); schemas.ExtractSchema dumps it. In
    the language of the request that asks for it (Swedish outside a request)."""
    lang = current_language()
    definition = case.definition.content
    form = ServiceForm(definition, {})
    thinned = case.thinned_at is not None
    steps, attachments = ([], []) if thinned else _answers(case, form, answers_shown, lang)
    extract = {
        "document": _("Registerutdrag enligt artikel 15 i dataskyddsförordningen (GDPR)"),
        "made_at": now,
        "made_for": audience,
        "controller": controller(tenant),
        "case": {
            "reference": case.reference,
            "service": case.service_slug,
            "service_title": localized(definition["title"], lang),
            "service_version": case.definition.version,
            "source": str(CHANNELS.get(case.channel, "")),
            "status": case.status,
            "status_label": status.label(case.status, lang),
            "submitted_at": case.submitted_at,
            "updated_at": case.updated_at,
            "closed_at": case.closed_at,
            "thinned_at": case.thinned_at,
            "language": case.language,
            "linked_to_e_id": case.person_key is not None,
        },
        "retention": retention(tenant, case),
        "answers_shown": answers_shown and not thinned,
        "answers": steps,
        "attachments": attachments,
        "history": _history(case, audience, lang),
        "e_mails": _e_mails(case, answers_shown),
        "rights": str(RIGHTS) % {"name": tenant.name},
    }
    # Only what the definition itself states: never a purpose or basis made up here.
    for key in ("purpose", "legal_basis"):
        if definition.get(key):
            extract[key] = localized(definition[key], lang)
    return extract
