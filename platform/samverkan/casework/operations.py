"""What a case worker changes on a case. Each change writes its history line and its audit
entry (and, for the citizen, an e-mail in the outbox) in the same transaction. They flush
but never commit: the request commits once."""

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.accounts.models import ROLES, Membership, User
from samverkan.audit.operations import record
from samverkan.cases import status
from samverkan.cases.models import COMPLETION_FILES, Attachment, Case, CaseEvent
from samverkan.catalogue import uploads
from samverkan.catalogue.fields import CONTROL
from samverkan.catalogue.uploads import IncomingFile
from samverkan.db import utcnow
from samverkan.outbox import mails
from samverkan.tenancy.models import Tenant
from samverkan.translatable import N_

MESSAGE_MAX = 5000
# The limit in words, for the catalogue: a literal (tests/test_casework.py checks that it
# names MESSAGE_MAX).
MESSAGE_TOO_LONG = N_("Meddelandet får vara högst 5000 tecken.")
NOTE_TOO_LONG = N_("Anteckningen får vara högst 5000 tecken.")
COMPLETION_TOO_LONG = N_("Kompletteringen får vara högst 5000 tecken.")


class CaseworkError(ValueError):
    """A change the workflow does not allow; `field` names what to correct. `message` is
    Swedish, as the API answers; `shown` is what a page translates and shows (marked for
    the catalogue), when the message holds words the catalogue cannot (the statuses)."""

    def __init__(self, field: str, message: str, shown: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.shown = shown or message


def colleagues(session: orm.Session) -> list[tuple[int, str]]:
    """(user id, name) of everyone who works with the bound member's cases, by name: its
    administrators and case workers (the hub's staff at the hub member open none)."""
    rows = session.execute(
        sa.select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(User.active.is_(True), Membership.role.in_(ROLES))
        .order_by(User.name, User.id)
    ).all()
    return [(row.id, row.name) for row in rows]


def _event(
    session, case: Case, kind: str, *, by: User | None, message=None, visible=True
) -> CaseEvent:
    """One line of the case's history, by a colleague or (None) the citizen or a tool."""
    event = CaseEvent(
        tenant_id=case.tenant_id,
        case_id=case.id,
        kind=kind,
        status=case.status,
        message=message,
        visible_to_citizen=visible,
        author_id=by.id if by else None,
    )
    session.add(event)
    session.flush()
    return event


def assign(
    session: orm.Session,
    case: Case,
    assignee_id: int | None,
    *,
    by: User,
    seen_assignee: int | None | str = "unknown",
) -> bool:
    """Give the case to a colleague at the same member (or to nobody). False when it was
    theirs already (nothing written). `seen_assignee` is who the case worker's page showed
    (None: nobody): if another has given the case to someone else since, it is refused."""
    assignee = session.get(Membership, (case.tenant_id, assignee_id)) if assignee_id else None
    if assignee_id is not None and (assignee is None or assignee.role not in ROLES):
        raise CaseworkError("assignee", N_("Välj en handläggare som arbetar här."))
    if assignee is not None and not session.get(User, assignee_id).active:
        raise CaseworkError("assignee", N_("Kontot är avstängt: välj en annan handläggare."))
    if case.assigned_to_id == assignee_id:
        return False
    if seen_assignee != "unknown" and seen_assignee != case.assigned_to_id:
        raise CaseworkError(
            "assignee",
            N_(
                "Ärendet har fått en annan handläggare sedan du öppnade sidan. Kontrollera "
                "vem som har det nu och välj igen."
            ),
        )
    name = dict(colleagues(session)).get(assignee_id) if assignee_id else None
    _assigned(session, case, assignee_id, name, by=by)
    return True


def _assigned(session, case: Case, assignee_id, name, *, by: User | None, **logged) -> None:
    """The case given to `assignee_id` (None: nobody), in its history and the log;
    `logged` says who did it when no one signed in did (actor, tenant_id, why)."""
    case.assigned_to_id = assignee_id
    _event(
        session,
        case,
        "assigned",
        by=by,
        message=status.assigned_text(name) if name else status.UNASSIGNED_TEXT,
        visible=False,
    )
    # The name as it was: the log is read after the account has changed or gone.
    detail = {"assignee_id": assignee_id, "assignee": name}
    if "because" in logged:
        detail["because"] = logged.pop("because")
    record(session, "case.assigned", "case", case.reference, detail, **logged)


def free_cases_of(session: orm.Session, user: User, *, actor: str) -> int:
    """Every open case assigned to `user` at an active member (the session may write every
    member's) back to nobody: their account is off, and a case left with it sat unseen
    (neither theirs to work nor under 'Ej tilldelade'). A closed case, a thinned one, and a
    member that has left stay as they were. How many were freed."""
    cases = session.scalars(
        sa.select(Case)
        .join(Tenant, Tenant.id == Case.tenant_id)
        .where(
            Case.assigned_to_id == user.id,
            Case.status != status.CLOSED,
            Case.thinned_at.is_(None),
            Tenant.status == "active",
        )
    ).all()
    for case in cases:
        _assigned(
            session,
            case,
            None,
            None,
            by=None,
            actor=actor,
            tenant_id=case.tenant_id,
            because="deactivated",
        )
    session.flush()
    return len(cases)


def transition(
    session: orm.Session,
    tenant: Tenant,
    case: Case,
    new_status: str,
    message: str | None,
    *,
    by: User,
    now: datetime | None = None,
    seen_status: str | None = None,
    seen_news: int | None = None,
) -> CaseEvent | None:
    """Move the case on in the workflow, with an optional message to the citizen: it shows
    on their status page and, if they left an address, goes out by e-mail. The case's own
    status (not closed) with a message writes to the citizen without moving the case.
    `seen_status` is the status the case worker's page showed: if another has changed it
    since, the change is refused (it would undo theirs) — unless it is this change itself,
    sent twice (a double click): then nothing more is written and None is returned.
    `seen_news` is the last line of history the citizen sees that the page showed: a
    status that changed and came back, or an answer from the citizen, is news too."""
    message = (message or "").strip() or None
    overtaken = seen_status is not None and seen_status != case.status
    if seen_news is not None and not overtaken:
        overtaken = last_news(session, case) > seen_news
    if overtaken:
        if new_status == case.status and _written_just_now(
            session, case, by, ("status_changed", "message"), message
        ):
            return None
        if case.status == status.CLOSED:
            raise CaseworkError(
                "status",
                "Ärendet har avslutats sedan sidan öppnades; meddelandet skickades inte.",
                N_("Ärendet har avslutats sedan du öppnade sidan. Ditt meddelande skickades inte."),
            )
        raise CaseworkError(
            "status",
            "Ärendet har fått en annan status sedan sidan öppnades: nu "
            f"{status.label(case.status, staff=True).lower()}. Kontrollera och välj igen.",
            N_(
                "Ärendet har ändrats av någon annan sedan du öppnade sidan. Kontrollera "
                "statusen nu och välj igen."
            ),
        )
    keeping = new_status == case.status and case.status != status.CLOSED
    if keeping and message and _written_just_now(session, case, by, ("message",), message):
        return None  # the same message a moment ago: a double click, sent once
    if not keeping and new_status not in status.allowed_next(case.status):
        allowed = ", ".join(
            status.label(s, staff=True).lower() for s in status.allowed_next(case.status)
        )
        raise CaseworkError(
            "status",
            f"Ett ärende som är {status.label(case.status, staff=True).lower()} kan inte få"
            " den statusen" + (f"; välj {allowed}." if allowed else "; det är avslutat."),
            N_("Ärendet kan inte få den statusen nu: välj en av dem i listan.")
            if allowed
            else N_("Ärendet är avslutat och kan inte få en ny status."),
        )
    if message and len(message) > MESSAGE_MAX:
        raise CaseworkError("message", MESSAGE_TOO_LONG)
    if keeping and not message:
        raise CaseworkError(
            "message", N_("Skriv meddelandet till den sökande, eller välj en ny status.")
        )
    if new_status == status.WAITING and not message:
        raise CaseworkError(
            "message", N_("Skriv vad den sökande behöver komplettera med: det visas för hen.")
        )
    previous = case.status
    case.status = new_status
    case.unread_completion_at = None  # a case worker has acted on it
    if new_status == status.CLOSED:
        case.closed_at = now or datetime.now(UTC)
    event = _event(
        session, case, "message" if keeping else "status_changed", by=by, message=message
    )
    if keeping:
        case.updated_at = now or datetime.now(UTC)  # news for the citizen: the row is touched
    mails.case_message(session, tenant, case, event)
    record(
        session,
        "case.messaged" if keeping else "case.transitioned",
        "case",
        case.reference,
        {"from": previous, "to": new_status, "message_sent": bool(message)},
    )
    return event


def completion_read(session: orm.Session, case: Case) -> None:
    """A case worker has opened the case: its completion is no longer news in the inbox.
    Not a change to the case: its updated_at (the citizen's "last changed") stays. Only
    the answer the page showed: one that came meanwhile stays news."""
    if case.unread_completion_at is None:
        return
    session.execute(
        sa.update(Case)
        .where(Case.id == case.id, Case.unread_completion_at == case.unread_completion_at)
        .values(unread_completion_at=None, updated_at=Case.updated_at)
        .execution_options(synchronize_session=False)
    )


def last_news(session: orm.Session, case: Case) -> int:
    """The id of the case's latest line of history that its citizen sees (a status, a
    message, their own answer): what a case worker's decision should have seen."""
    latest = sa.select(sa.func.max(CaseEvent.id)).where(
        CaseEvent.case_id == case.id, CaseEvent.visible_to_citizen.is_(True)
    )
    return session.scalar(latest) or 0


# A second click arrives within a few seconds of the first; a minute is generous.
SAME_CLICK = timedelta(minutes=1)


def _written_just_now(
    session, case: Case, by: User | None, kinds: tuple, message: str | None
) -> bool:
    """Whether the case's last line of history is of one of `kinds`, with this message, by
    the same person (None: the citizen), a moment ago, at the case's status: the first of
    two clicks, done."""
    last = session.scalar(
        sa.select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return (
        last is not None
        and last.kind in kinds
        and last.author_id == (by.id if by else None)
        and last.status == case.status
        and last.message == message
        and utcnow() - last.created_at < SAME_CLICK
    )


def add_note(session: orm.Session, case: Case, text: str, *, by: User) -> CaseEvent | None:
    """An internal note: in the history for staff, never on the citizen's pages. The same
    note by the same person a moment after the first is not written again (None)."""
    text = (text or "").strip()
    if not text:
        raise CaseworkError("note", N_("Skriv anteckningen."))
    if len(text) > MESSAGE_MAX:
        raise CaseworkError("note", NOTE_TOO_LONG)
    if _written_just_now(session, case, by, ("note",), text):
        return None  # a double click: the note is there once
    event = _event(session, case, "note", by=by, message=text, visible=False)
    record(session, "case.noted", "case", case.reference)
    return event


CITIZEN_ACTOR = "den sökande (statuslänken)"
ALREADY_SENT = N_(
    "Du har redan skickat en komplettering, och ärendet är nu hos handläggaren. Det här "
    "skickades inte med den."
)


def _files_of_last(session, case: Case) -> list[str]:
    """The SHA-256 of the files sent with the case's last line of history, sorted."""
    last = session.scalar(
        sa.select(CaseEvent.id)
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return sorted(session.scalars(sa.select(Attachment.sha256).where(Attachment.event_id == last)))


def _last_seen_by_citizen(session, case: Case) -> str | None:
    """The kind of the case's latest line of history that its citizen sees."""
    latest = session.get(CaseEvent, last_news(session, case))
    return latest.kind if latest is not None else None


def _digest(incoming: IncomingFile) -> str:
    return hashlib.sha256(incoming.data).hexdigest()


def add_completion(
    session: orm.Session,
    case: Case,
    text: str,
    files: Sequence[IncomingFile] = (),
    *,
    upload_root: Path | None = None,
) -> CaseEvent | None:
    """The citizen's answer to a request for more (the case waiting for them), sent from
    the status page: text, files (already checked, catalogue.fields.UploadField), or
    both. In the history for them and the staff, the files kept with its entry, and the
    case is back in progress, the case worker's turn. The same answer sent twice a moment
    apart (a double click) is written once (None), its files with it."""
    # Locked (a case worker's change waits its turn), then read again: the row alone, as
    # PostgreSQL locks no outer join (the case's eager relations).
    session.execute(sa.select(Case.id).where(Case.id == case.id).with_for_update())
    session.refresh(case)
    text = (text or "").strip()
    if case.status != status.WAITING or case.thinned_at is not None:
        if _written_just_now(session, case, None, ("completion",), text or None):
            if _files_of_last(session, case) == sorted(_digest(f) for f in files):
                return None  # the same answer a moment ago: a double click
            raise CaseworkError("sent", ALREADY_SENT)
        if _last_seen_by_citizen(session, case) == "completion":
            raise CaseworkError("sent", ALREADY_SENT)  # theirs moved it on, not a colleague
        raise CaseworkError(
            "status",
            N_("Ärendet väntar inte på någon komplettering nu. Här ser du hur det går."),
        )
    if not text and not files:
        raise CaseworkError("completion", N_("Skriv din komplettering eller bifoga en fil."))
    if len(text) > MESSAGE_MAX:
        raise CaseworkError("completion", COMPLETION_TOO_LONG)
    if CONTROL.search(text):
        raise CaseworkError("completion", N_("Texten innehåller otillåtna tecken."))
    case.status = status.IN_PROGRESS
    event = _event(session, case, "completion", by=None, message=text or None)
    case.unread_completion_at = event.created_at  # the inbox marks it until opened
    for incoming in files:
        stored = uploads.store_for(session, upload_root, case.tenant_id, incoming)
        session.add(
            Attachment(
                tenant_id=case.tenant_id,
                case_id=case.id,
                event_id=event.id,
                field_name=COMPLETION_FILES,
                created_at=event.created_at,  # received with it
                **asdict(stored),
            )
        )
    details = {"files": len(files)} if files else None
    record(session, "case.completed", "case", case.reference, details, actor=CITIZEN_ACTOR)
    return event
