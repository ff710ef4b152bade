"""State changes for cases. They flush but never commit: the request commits once."""

import functools
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from samverkan import direct_sql
from samverkan.cases import statements, status
from samverkan.cases.models import Attachment, Case, Draft
from samverkan.catalogue import uploads
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import TenantService
from samverkan.catalogue.uploads import IncomingFile, StoredFile
from samverkan.clock import SWEDEN
from samverkan.i18n import DEFAULT_LANGUAGE
from samverkan.outbox import mails
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import TenantNotBound, tenant_connection

DRAFT_LIFETIME = timedelta(days=30)  # when the member's own draft_days is not at hand


class MemberClosed(Exception):
    """The member has left the collaboration: no new cases."""


class ServiceClosed(Exception):
    """The member or the e-service stopped taking cases (or moved to a new version) while
    the request was under way: nothing was registered."""


class IdempotencyConflict(Exception):
    """The same idempotency key came back with different answers."""


@dataclass
class Submission:
    """A registered case, or for a repeated key the first one. `case` is made a loaded row
    of the session only when first asked for: the web form needs only the link token,
    and building the ORM object was a tenth of a web submission's CPU in a worker."""

    created: bool
    status_token: str = field(repr=False)  # the case's private key: never in a log line
    reference: str
    # Not in repr either: the values hold the answers (personal data).
    _case: Case | None = field(default=None, repr=False, compare=False)
    _session: orm.Session | None = field(default=None, repr=False, compare=False)
    _values: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, case: Case, created: bool) -> "Submission":
        return cls(created, case.status_token, case.reference, _case=case)

    @property
    def case(self) -> Case:
        if self._case is None:
            if self._session is None:
                raise RuntimeError("registered in its own transaction: read it from there")
            case = Case(**self._values)
            orm.make_transient_to_detached(case)  # loaded as written, without a query
            self._session.add(case)
            self._case = case
        return self._case


def next_reference_number(
    session: orm.Session, tenant_id: int, year: int, service: TenantService
) -> int:
    """Take the next number in the member's series for the year.

    One upsert that increments and returns the counter: on PostgreSQL the row lock holds
    concurrent submitters until this transaction ends, on SQLite the request runs under
    BEGIN IMMEDIATE. Either way a rolled-back submission gives its number back: no gaps.

    The same statement checks that the member still takes cases and the e-service is still
    on in the version the answers were given for: the caller may have read both from a
    worker's copy a few seconds old (tenancy/snapshot.py). If not, no number is taken and
    ServiceClosed is raised.
    """
    connection, bound = tenant_connection(session)
    if bound != tenant_id:
        raise TenantNotBound(f"numbering for tenant {tenant_id}, but tenant {bound} is bound")
    number = connection.execute(
        statements.take_number(connection.dialect.name),
        {
            "tenant_id": tenant_id,
            "year": year,
            "service_slug": service.service_slug,
            "definition_id": service.definition_id,
        },
    ).scalar_one_or_none()
    if number is None:
        raise ServiceClosed(service.service_slug)
    return number


def format_reference(tenant: Tenant, year: int, number: int) -> str:
    return f"{tenant.reference_prefix}-{year}-{number:06d}"


# The fingerprint's JSON: keys sorted, so the same answers in any order give one digest.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def answers_fingerprint(form: ServiceForm, answers: dict) -> str:
    """A digest of the answers (files by their content hash) to recognise a replay."""
    files = {
        name: hashlib.sha256(value.data).hexdigest()
        if isinstance(value, IncomingFile)
        else value.sha256
        for name, value in answers.items()
        if isinstance(value, IncomingFile | StoredFile)
    }
    if files:
        plain = {name: value for name, value in answers.items() if name not in files}
        comparable = {**form.to_json(plain), **files}
    else:  # most submissions: no file, one pass
        comparable = form.to_json(answers)
    return hashlib.sha256(_CANONICAL.encode(comparable).encode()).hexdigest()


def find_by_idempotency_key(session: orm.Session, key: str) -> Case | None:
    return session.scalar(sa.select(Case).where(Case.idempotency_key == key))


def submit_case(
    session: orm.Session,
    tenant: Tenant,
    service: TenantService,
    form: ServiceForm,
    answers: dict,
    *,
    channel: str,
    upload_root: Path,
    idempotency_key: str | None = None,
    key_is_new: bool = False,
    person_key: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    now: datetime | None = None,
    connection: sa.Connection | None = None,
) -> Submission:
    """Register validated answers as a case with the next reference in the member's series.

    With an idempotency key, a repeat returns the first case instead of creating another;
    a repeat with different answers raises IdempotencyConflict. `key_is_new` says the
    caller holds the only source of the key in this transaction (a claimed draft,
    claim_draft): no case can have it and no twin can race, so neither the look-up nor a
    savepoint is needed. Raises ServiceClosed if the member or e-service stopped taking
    cases; files written for the answers are removed again whenever this raises, and
    when the transaction ends without a commit (uploads.store_for). `person_key` links the
    case to the person signed in with e-ID who sent it (identity/persons.py). `language`
    is the one the citizen used (i18n.LANGUAGES): the receipt and every later mail to them
    about the case are written in it.

    `connection`: the member's own transaction (scoping.member_transaction) to register in
    instead of the session's, for a key that is new and answers whose files are stored
    already (a web submission's draft); the case is then the connection's to commit.
    """
    if connection is not None and not key_is_new:
        raise ValueError("a submission in its own transaction needs a key that is new")
    if connection is not None and any(isinstance(v, IncomingFile) for v in answers.values()):
        raise ValueError("a submission in its own transaction takes files stored already")
    if tenant.status != "active":
        # Every caller checks first (resolve.py, the contact centre); this is the backstop.
        raise MemberClosed(tenant.slug)
    fingerprint = answers_fingerprint(form, answers)
    if idempotency_key and not key_is_new:
        existing = find_by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # PostgreSQL's statement takes it as it is (direct_sql.py)
        raise ValueError("a naive datetime cannot be stored: give it a time zone")
    stored = store_files(session, answers, upload_root, tenant.id)
    register = functools.partial(
        _register,
        session,
        connection,
        tenant,
        service,
        form,
        stored,
        channel,
        idempotency_key,
        fingerprint,
        person_key,
        language,
    )
    try:
        if key_is_new:
            return register(now)
        with session.begin_nested():
            return register(now)
    except sa_exc.IntegrityError:
        # Two requests with one key raced past the look-up; the other one won and keeps
        # its own copies of the files.
        _remove_new_files(answers, stored, upload_root, tenant.id)
        winner = idempotency_key and not key_is_new
        existing = find_by_idempotency_key(session, idempotency_key) if winner else None
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    except BaseException:  # ServiceClosed, a lost connection, a lock timeout: nothing kept
        _remove_new_files(answers, stored, upload_root, tenant.id)
        raise


def _register(
    session: orm.Session,
    own_connection: sa.Connection | None,
    tenant: Tenant,
    service: TenantService,
    form: ServiceForm,
    stored: dict,
    channel: str,
    idempotency_key: str | None,
    fingerprint: str,
    person_key: str | None,
    language: str,
    now: datetime,
) -> Submission:
    """The case, its first history entry, its files and its receipt, in this transaction.

    From the number on, the member's counter is locked until the commit, so the number,
    the case, its history and its receipt are Core statements (cases/statements.py), on
    PostgreSQL a single one; the submission's Case is made a loaded row of the session
    without a query (when asked for)."""
    year = now.astimezone(SWEDEN).year
    values = {
        "tenant_id": tenant.id,
        "year": year,
        "service_slug": service.service_slug,
        "definition_id": service.definition_id,
        "answers": form.to_json(stored),
        "status": status.RECEIVED,
        "channel": channel,
        "status_token": secrets.token_urlsafe(32),
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint,
        "submitted_at": now,
        "updated_at": now,
        "person_key": person_key,
        "language": language,
    }
    first_event = {
        "kind": "submitted",
        "message": status.SUBMITTED_TEXT,
        "visible_to_citizen": True,
    }
    connection, bound = tenant_connection(session if own_connection is None else own_connection)
    if bound != tenant.id:
        raise TenantNotBound(f"registering for tenant {tenant.id}, but tenant {bound} is bound")
    on_postgresql = connection.dialect.name == "postgresql"
    if on_postgresql:
        receipt = mails.case_receipt(
            tenant,
            form.definition,
            answers=values["answers"],
            language=language,
            status_token=values["status_token"],
            reference=mails.REFERENCE_MARK,
        )
        to, subject, body = receipt or (None, None, None)
        row = direct_sql.fetch_one(
            connection,
            statements.register_case_postgresql(),
            {
                **values,
                **first_event,
                "answers": json.dumps(values["answers"]),  # the statement casts it
                "prefix": tenant.reference_prefix,
                "receipt_to": to,
                "receipt_event_key": mails.receipt_event_key(mails.REFERENCE_MARK),
                "receipt_subject": subject,
                "receipt_body": body,
                "reference_mark": mails.REFERENCE_MARK,
            },
        )
        if row is None:
            raise ServiceClosed(service.service_slug)
        case_id, values["number"], values["reference"] = row
    else:
        number = next_reference_number(session, tenant.id, year, service)
        values.update(number=number, reference=format_reference(tenant, year, number))
        case_id = connection.execute(statements.insert_case(), values).scalar_one()
        event = {"tenant_id": tenant.id, "case_id": case_id, "status": status.RECEIVED}
        connection.execute(statements.insert_event(), {**event, **first_event, "created_at": now})
    values["id"] = case_id
    # A case registered in its own transaction is not the session's to hand out.
    in_session = session if own_connection is None else None
    submission = Submission(
        True, values["status_token"], values["reference"], _session=in_session, _values=values
    )
    files = [
        {
            "tenant_id": tenant.id,
            "case_id": case_id,
            "field_name": name,
            "filename": value.filename,
            "storage_name": value.storage_name,
            "content_type": value.content_type,
            "size": value.size,
            "sha256": value.sha256,
        }
        for name, value in stored.items()
        if isinstance(value, StoredFile)
    ]
    if files and own_connection is not None:
        connection.execute(sa.insert(Attachment.__table__), files)
    elif files:  # asking the scoped session for nothing would still make one
        session.add_all(Attachment(**values) for values in files)
    # The receipt is queued with its case (on PostgreSQL by the statement above): a replay
    # that loses a race rolls both back, so one case gets one receipt.
    if not on_postgresql:
        mails.case_received(session, tenant, submission.case, form.definition)
    if (files and own_connection is None) or not on_postgresql:
        session.flush()  # here, so a refused row still removes the files (submit_case)
    return submission


def _remove_new_files(answers: dict, stored: dict, upload_root: Path, tenant_id: int) -> None:
    for name, value in answers.items():
        if isinstance(value, IncomingFile):
            uploads.remove(upload_root, tenant_id, stored[name])


def _replay(existing: Case, fingerprint: str) -> Submission:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(existing.reference)
    return Submission.of(existing, created=False)


def find_case_by_token(session: orm.Session, token: str) -> Case | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(sa.select(Case).where(Case.status_token == token))


# -- drafts: a form in progress ----------------------------------------------------------


def start_draft(
    session: orm.Session,
    service: TenantService,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
) -> Draft:
    """A new draft, kept for the member's draft_days (`lifetime`) from now."""
    now = now or datetime.now(UTC)
    draft = Draft(
        id=secrets.token_urlsafe(24),
        service_slug=service.service_slug,
        definition_id=service.definition_id,
        answers={},
        completed_steps=[],
        expires_at=now + (lifetime or DRAFT_LIFETIME),
    )
    session.add(draft)
    session.flush()
    return draft


def carry_over_draft(
    session: orm.Session,
    draft: Draft,
    old: ServiceForm,
    new: ServiceForm,
    definition_id: int,
    upload_root: Path,
) -> list[str]:
    """Move a draft begun on an earlier version of its e-service (`old`) onto the version
    the member runs now (`new`, `definition_id`): a text fixed or a question added must not
    cost the citizen every answer. An answer is kept where the new version asks a question
    of the same name and type and accepts the answer as it is; a step stays done only while
    nothing on it is missing or refused, so the citizen is led to what is new. Returns the
    names of the answers that could not follow; a file among them is deleted once this
    commits. Flushes; the caller commits."""
    before = draft.answers or {}
    given = old.from_json(before)
    same = {
        name: value
        for name, value in given.items()
        if name in new.fields and new.fields[name]["type"] == old.fields[name]["type"]
    }
    kept: dict = {}
    done = []
    for step in new.steps:
        on_step = {spec["name"] for spec in step["fields"]}
        result = new.validate(step["fields"], {k: v for k, v in same.items() if k in on_step}, kept)
        kept.update({k: v for k, v in result.answers.items() if k not in result.errors})
        if step["id"] in (draft.completed_steps or []) and not result.errors:
            done.append(step["id"])
    draft.definition_id = definition_id
    draft.answers = new.to_json(kept)
    draft.completed_steps = done
    _drop_unnamed_files(draft, before, upload_root, session)
    session.flush()
    return [name for name in given if name not in kept]


def store_files(session: orm.Session, answers: dict, upload_root: Path, tenant_id: int) -> dict:
    """The answers with every file that passed its checks written to disk, for the
    session's transaction: removed again unless it commits (uploads.store_for)."""
    return {
        name: uploads.store_for(session, upload_root, tenant_id, value)
        if isinstance(value, IncomingFile)
        else value
        for name, value in answers.items()
    }


def _drop_unnamed_files(draft: Draft, before: dict, upload_root: Path, session=None) -> None:
    """A file the draft named before this change and no longer does (replaced by another,
    or its field hidden by a condition) is deleted once the change commits: no personal
    document stays on disk that nothing points at (expiry and retention find files only
    through what names them)."""
    session = session or orm.object_session(draft)
    for name in uploads.storage_names(before) - uploads.storage_names(draft.answers):
        uploads.remove_after_commit(session, upload_root, draft.tenant_id, name)


def keep_files(
    draft: Draft, form: ServiceForm, answers: dict, upload_root: Path, removed=frozenset()
) -> None:
    """On a page with errors, keep the files that passed, so they need not be chosen again,
    and let go of those the citizen removed (`removed`: field names)."""
    kept = {name: value for name, value in answers.items() if isinstance(value, StoredFile)}
    if kept or removed:
        before = draft.answers
        left = {name: value for name, value in draft.answers.items() if name not in removed}
        draft.answers = {**left, **form.to_json(kept)}
        _drop_unnamed_files(draft, before, upload_root)


def discard_draft(session: orm.Session, draft: Draft, upload_root: Path) -> None:
    """The citizen's answers thrown away, and their files deleted once that commits (a
    draft's files are its own until a submission makes them a case's)."""
    for name in uploads.storage_names(draft.answers):
        uploads.remove_after_commit(session, upload_root, draft.tenant_id, name)
    session.delete(draft)
    session.flush()


def save_step(
    draft: Draft, form: ServiceForm, step_id: str, answers: dict, upload_root: Path
) -> None:
    """Keep one step's answers. Answers of fields now hidden by a condition are dropped,
    and a later step that now asks for something unanswered is no longer complete. Files
    no longer named are deleted with the commit."""
    before = draft.answers
    step = form.step(step_id)
    merged = form.from_json(draft.answers)
    for spec in step["fields"]:
        merged.pop(spec["name"], None)
    merged.update(answers)
    shown = {spec["name"] for spec in form.visible(form.all_fields(), merged)}
    merged = {name: value for name, value in merged.items() if name in shown}
    draft.answers = form.to_json(merged)
    _drop_unnamed_files(draft, before, upload_root)
    completed = {s for s in draft.completed_steps if s != step_id} | {step_id}
    draft.completed_steps = _still_complete(form, step_id, merged, completed)


def _still_complete(form: ServiceForm, step_id: str, merged: dict, completed: set) -> list:
    """The completed steps in form order, less a later step that a change to `step_id` now
    makes ask for something unanswered (a condition met, a choice changed)."""
    for later in form.steps[form.step_index(step_id) + 1 :]:
        if later["id"] in completed and not form.validate(later["fields"], merged, merged).ok:
            completed.discard(later["id"])
    return [s["id"] for s in form.steps if s["id"] in completed]


def save_for_later(
    draft: Draft, form: ServiceForm, step_id: str, answers: dict, errors: dict, upload_root: Path
) -> None:
    """Keep what was valid on a page the citizen left with "save and continue later",
    without requiring the page to be complete: a field in error keeps its earlier answer
    (if any), every other field on the page takes what was sent (left empty: no answer).
    The step counts as complete only if what it now holds passes its checks. Files no
    longer named are deleted with the commit."""
    before = draft.answers
    step = form.step(step_id)
    merged = form.from_json(draft.answers)
    for spec in step["fields"]:
        if spec["name"] not in errors:
            merged.pop(spec["name"], None)
    merged.update(answers)
    shown = {spec["name"] for spec in form.visible(form.all_fields(), merged)}
    merged = {name: value for name, value in merged.items() if name in shown}
    draft.answers = form.to_json(merged)
    _drop_unnamed_files(draft, before, upload_root)
    complete = form.validate(step["fields"], merged, merged).ok
    steps = set(draft.completed_steps)
    if complete:
        steps.add(step_id)
    else:
        steps.discard(step_id)
    # As when continuing: a later step the change now makes ask more is not complete.
    draft.completed_steps = _still_complete(form, step_id, merged, steps)


def resume_digest(token: str) -> str:
    """What is stored of a resume link's token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_resume_token(draft: Draft) -> str:
    """A new private resume link token for the draft (the one before stops working)."""
    token = secrets.token_urlsafe(32)
    draft.resume_digest = resume_digest(token)
    return token


def take_up_draft(draft: Draft, form: ServiceForm, new_id: str, new_token: str) -> None:
    """Another browser continues the draft from its resume link: from now on it alone
    holds the draft. A new id (what a browser's session names its draft by), so the
    browser it was saved in, or whoever planted the link, no longer reaches it, nor the
    case it becomes; and a new link, `new_token` (the old one stops working). E-mail
    answers are asked again: receipts and messages, with the case's private status link,
    go there, and whoever planted the link may have written their own. The caller
    commits; a second take-up of the same draft meanwhile makes its flush fail
    (StaleDataError: the row has its new id already)."""
    draft.id = new_id
    draft.resume_digest = resume_digest(new_token)
    emails = {spec["name"] for spec in form.all_fields() if spec["type"] == "email"}
    if any(draft.answers.get(name) for name in emails):
        asked = {s["id"] for s in form.steps if any(f["name"] in emails for f in s["fields"])}
        draft.answers = {k: v for k, v in draft.answers.items() if k not in emails}
        draft.completed_steps = [s for s in draft.completed_steps if s not in asked]


def find_draft_by_resume_token(session: orm.Session, token: str, service_slug: str) -> Draft | None:
    """The draft a resume link opens, expired or not (the caller tells them apart)."""
    if not token or len(token) > 64:
        return None
    return session.scalar(
        sa.select(Draft).where(
            Draft.resume_digest == resume_digest(token), Draft.service_slug == service_slug
        )
    )


def find_draft(session: orm.Session, draft_id: str | None, service_slug: str) -> Draft | None:
    if not draft_id:
        return None
    draft = session.scalar(
        sa.select(Draft).where(Draft.id == draft_id, Draft.service_slug == service_slug)
    )
    if draft is None or draft.expires_at < datetime.now(UTC):
        return None
    return draft


def claim_draft(
    session: orm.Session | sa.Connection, draft_id: str | None, service: TenantService
) -> tuple | None:
    """Take a draft out of the drafts to submit it: one DELETE … RETURNING, so a second
    click on "Skicka" waits for this transaction and then finds nothing, and a refusal
    (the request rolls back) gives the draft back untouched. None if there is no current
    draft for this e-service's version. The row's columns by name (id, definition_id,
    answers, completed_steps, expires_at). `session` may be a member_transaction's
    connection (scoping.py)."""
    if not draft_id:
        return None
    connection, tenant_id = tenant_connection(session)
    params = {"tenant_id": tenant_id, "draft_id": draft_id, "service_slug": service.service_slug}
    if connection.dialect.name == "postgresql":  # the busiest write: on the driver's cursor
        claimed = direct_sql.fetch_one(connection, statements.claim_draft(), params)
    else:
        claimed = connection.execute(statements.claim_draft(), params).one_or_none()
    if claimed is None or claimed.definition_id != service.definition_id:
        return None
    if claimed.expires_at < datetime.now(UTC):
        return None
    return claimed
