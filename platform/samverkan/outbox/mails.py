"""The e-mails the platform sends, queued in the transaction of their cause.

What goes to a citizen about a case is in the language the case was sent in (its
`language`: the pages' on the web, Content-Language through the API), Swedish for cases
from before that was recorded; a case worker's own words in a message go as written.
Mails to staff are Swedish. They carry no answers and no personnummer, only the
reference and the private status link, since e-mail is not a secure channel.
"""

import logging
import secrets
from datetime import datetime

from flask import current_app, g, has_request_context, request
from sqlalchemy import orm

from samverkan.accounts.models import Invitation
from samverkan.cases.models import Case, CaseEvent
from samverkan.cases.status import WAITING
from samverkan.cases.status import label as status_label
from samverkan.catalogue.fields import localized
from samverkan.i18n import DEFAULT_LANGUAGE, LANGUAGES, current_language, in_language
from samverkan.i18n import gettext as _
from samverkan.links import external_url
from samverkan.outbox.operations import enqueue
from samverkan.submission_limits import receipt_may_go_to
from samverkan.tenancy.models import Tenant
from samverkan.urls import PLAIN_TOKEN, TOKEN_STAND_IN

logger = logging.getLogger(__name__)


def citizen_address(case: Case, definition: dict | None = None) -> str | None:
    """The address the citizen left in the form, if the e-service asks for one.
    `definition` is the case's definition content when the caller has it at hand."""
    content = definition if definition is not None else case.definition.content
    return _address_in(case.answers, content)


def _address_in(answers: dict, definition: dict) -> str | None:
    for step in definition["steps"]:
        for spec in step["fields"]:
            if spec["type"] == "email" and answers.get(spec["name"]):
                return str(answers[spec["name"]])
    return None


def _status_link(tenant: Tenant, status_token: str) -> str:
    return external_url("citizen.status", tenant=tenant.slug, token=status_token)


def _signature(tenant: Tenant) -> str:
    return _(
        "Med vänlig hälsning\n%(name)s\n\nDet här meddelandet går inte att svara på.",
        name=tenant.name,
    )


def _swedish_signature(tenant: Tenant) -> str:
    """Staff may read their pages in English; what they send a citizen is Swedish."""
    with in_language(DEFAULT_LANGUAGE):
        return _signature(tenant)


def case_received(session: orm.Session, tenant: Tenant, case: Case, definition: dict) -> None:
    """The receipt for a new case (case must be flushed), if the citizen left an address.
    `definition` is the case's definition content, which the submitter has at hand (a
    look-up would cost a query on every submission). Runs inside the submitting request
    (links: samverkan.links)."""
    language = case_language(case)
    receipt = case_receipt(
        tenant,
        definition,
        answers=case.answers,
        language=language,
        status_token=case.status_token,
        reference=case.reference,
    )
    if receipt is not None:
        enqueue(session, receipt_event_key(case.reference), *receipt, language=language)


# Where the reference goes in a receipt written before its case has one: on PostgreSQL the
# submitting statement queues the receipt with the case (cases/statements.py) and puts the
# reference in there. Random per process, so no member's name or e-service title has it.
REFERENCE_MARK = f"\u27ea{secrets.token_hex(8)}\u27eb"


def receipt_event_key(reference: str) -> str:
    return f"case:{reference}:received"


def case_language(case: Case) -> str:
    """The language to write to the citizen in about `case`."""
    return case.language if case.language in LANGUAGES else DEFAULT_LANGUAGE


def case_receipt(
    tenant: Tenant,
    definition: dict,
    *,
    answers: dict,
    language: str,
    status_token: str,
    reference: str,
) -> tuple[str, str, str] | None:
    """(address, subject, body) of a new case's receipt, or None when the citizen left no
    address, or when the address has had its share of receipts (counted here, once per
    new case: submission_limits.receipt_may_go_to; then g.receipt_held says so to the
    page). `answers` as stored (JSON); `language` the case's."""
    address = _address_in(answers, definition)
    if not address:
        return None
    if not receipt_may_go_to(address):
        logger.info("receipt not e-mailed: its recipient has had RECEIPTS_PER_RECIPIENT")
        if has_request_context():
            g.receipt_held = True
        return None
    service = localized(definition["title"], language)
    written = (
        _receipt_written(tenant, service, language) if PLAIN_TOKEN.fullmatch(status_token) else None
    )
    if written is None:
        link = _status_link(tenant, status_token)
        return address, *_receipt_text(tenant, service, language, reference, link)
    subject, body = written
    body = body.replace(TOKEN_STAND_IN, status_token)
    return (
        address,
        subject.replace(REFERENCE_MARK, reference),
        body.replace(REFERENCE_MARK, reference),
    )


def _receipt_text(tenant: Tenant, service: str, language: str, reference: str, link: str):
    """A new case's receipt: (subject, body)."""
    with in_language(language):
        subject = _("Vi har tagit emot ditt ärende %(reference)s", reference=reference)
        body = _(
            "Hej!\n\nVi har tagit emot ditt ärende i e-tjänsten ”%(service)s” med "
            "referensnumret %(reference)s.\n\nHär kan du följa ärendet:\n%(link)s\n\n"
            "Spara länken: den är personlig.",
            service=service,
            reference=reference,
            link=link,
        )
        signature = _signature(tenant)
    return subject, body + "\n\n" + signature


# Receipts as written for a member, an e-service's title and a language, with stand-ins
# for the reference and the status link's token, which each case then fills in: writing
# one (three translated texts, the link) was about 4 % of a web submission's instructions
# in-process (tests/bench/RESULTS.md). By what the text is made of, so a renamed member or
# e-service gets a new one; the link's address by the request's, as external_url takes it.
_written_receipts: dict[tuple, tuple[str, str] | None] = {}
_WRITTEN_MAX = 512


def _receipt_written(tenant: Tenant, service: str, language: str) -> tuple[str, str] | None:
    """The receipt's (subject, body) with the stand-ins, or None where it cannot be kept
    (outside a request, or a text that holds a stand-in itself)."""
    if not has_request_context():
        return None
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    key = (base, tenant.id, tenant.name, tenant.slug, service, language)
    if key in _written_receipts:
        return _written_receipts[key]
    link = _status_link(tenant, TOKEN_STAND_IN)
    subject, body = _receipt_text(tenant, service, language, REFERENCE_MARK, link)
    usable = body.count(TOKEN_STAND_IN) == 1 and TOKEN_STAND_IN not in subject
    if len(_written_receipts) >= _WRITTEN_MAX:
        _written_receipts.clear()
    found = _written_receipts[key] = (subject, body) if usable else None
    return found


def case_message(session: orm.Session, tenant: Tenant, case: Case, event: CaseEvent) -> None:
    """A status change or message the citizen should know about (event must be flushed)."""
    address = citizen_address(case)
    if not address or not event.visible_to_citizen:
        return
    lang = case_language(case)
    state = status_label(case.status, lang)
    link = _status_link(tenant, case.status_token)
    with in_language(lang):  # the citizen's, whatever the case worker reads the pages in
        if event.kind == "message":  # the status stayed: the mail must not say it changed
            subject = _("Ditt ärende %(reference)s: nytt meddelande", reference=case.reference)
            first = _(
                "Hej!\n\nDu har fått ett nytt meddelande om ditt ärende %(reference)s. "
                "Ärendets status är fortfarande: %(status)s.",
                reference=case.reference,
                status=state,
            )
        else:
            subject = _(
                "Ditt ärende %(reference)s: %(status)s",
                reference=case.reference,
                status=state.lower(),
            )
            first = _(
                "Hej!\n\nDitt ärende %(reference)s har nu status: %(status)s.",
                reference=case.reference,
                status=state,
            )
        lines = [first]
        if event.message:  # as the case worker wrote it
            lines.append(_("Meddelande från handläggaren:") + "\n\n" + event.message)
        if case.status == WAITING:  # this mail cannot be answered: the page can
            lines.append(_("Skicka kompletteringen på ärendets sida:") + "\n" + link)
        else:
            lines.append(_("Här kan du följa ärendet:") + "\n" + link)
        signature = _signature(tenant)
    enqueue(
        session,
        f"case:{case.reference}:event:{event.id}",
        address,
        subject,
        "\n\n".join(lines) + "\n\n" + signature,
        language=lang,
    )


def draft_link(
    session: orm.Session,
    tenant: Tenant,
    definition: dict,
    address: str,
    link: str,
    expires_at: datetime,
) -> None:
    """A citizen's private link to continue a saved draft, in the language of the page it
    was asked for on. No answers: only the e-service, the link and when it stops working.
    Every request is its own mail (the rate limit bounds them)."""
    from samverkan.templating import local_datetime

    lang = current_language() if has_request_context() else DEFAULT_LANGUAGE
    with in_language(lang):
        service = localized(definition["title"], lang)
        subject = _("Din länk för att fortsätta i e-tjänsten ”%(service)s”", service=service)
        body = _(
            "Hej!\n\nDu har sparat dina svar i e-tjänsten ”%(service)s” hos %(name)s. "
            "Med länken nedan kan du fortsätta där du slutade, fram till %(date)s. "
            "Efter det raderas svaren.\n\n%(link)s\n\n"
            "Alla som har länken kan se dina svar, så dela den inte med någon. "
            "Fortsätter du med den i en annan webbläsare slutar den gälla, och svaren "
            "finns sedan bara där. Inget är inskickat förrän du själv skickar in.",
            service=service,
            name=tenant.name,
            date=local_datetime(expires_at, lang),
            link=link,
        )
        signature = _signature(tenant)
    enqueue(
        session,
        f"draft-link:{secrets.token_hex(12)}",
        address,
        subject,
        body + "\n\n" + signature,
        language=lang,
    )


def invitation(session: orm.Session, tenant: Tenant, invite: Invitation, link: str) -> None:
    """The invitation link (invite must be flushed: its id names the event)."""
    enqueue(
        session,
        f"invitation:{invite.id}",
        invite.email,
        f"Inbjudan till e-tjänsterna för {tenant.name}",
        # Neutral on whether the address has an account already (at another member,
        # perhaps): the inviting member may not know, and must not learn it from this.
        f"Hej {invite.name}!\n\nDu har blivit inbjuden att arbeta i {tenant.name}s "
        f"e-tjänster i Samverkan. Öppna länken för att komma igång:\n\n"
        f"{link}\n\nHar du redan ett konto i Samverkan loggar du in med ditt lösenord där; "
        f"annars väljer du ett lösenord.\n\n"
        f"Länken gäller i sju dagar och kan användas en gång.\n\n" + _swedish_signature(tenant),
        language=DEFAULT_LANGUAGE,
    )
