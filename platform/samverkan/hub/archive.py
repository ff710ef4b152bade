"""A member's data as one zip archive in open formats, made before the member leaves:
its cases (JSON and CSV), their attachments as stored, its settings, its staff and its
audit log, with a README in Swedish saying what each file is.

Cases are read in batches by id, so memory stays flat however many there are; the
archive is written to a file, not held in memory. The session is the one
`across_members("hub.member_exported", …)` opened.
"""

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy import orm

from samverkan.accounts.models import ROLES, Membership, User
from samverkan.audit.models import AuditEntry
from samverkan.audit.operations import ACTIONS, in_hub_log
from samverkan.cases.models import Attachment, Case, CaseEvent
from samverkan.cases.status import label as status_label
from samverkan.casework.export import answers_text, neutralise
from samverkan.catalogue import uploads
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import localized
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.catalogue.offers import KIND_WORDS
from samverkan.clock import SWEDEN
from samverkan.retention.periods import MEMBER, SERVICE, months_after, period_for
from samverkan.retention.run import member_left_at
from samverkan.tenancy.models import Tenant

BATCH = 500


@dataclass
class ArchiveSummary:
    cases: int = 0
    attachments: int = 0
    missing_files: list[str] = field(default_factory=list)


def _moment(value: datetime | None) -> str | None:
    """ISO 8601 in Swedish time, with its offset: unambiguous and readable."""
    return value.astimezone(SWEDEN).isoformat(timespec="seconds") if value else None


def _csv_writer(handle: IO[str]):
    handle.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8
    return csv.writer(handle, delimiter=";", lineterminator="\r\n")


def _text_entry(archive: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    raw = archive.open(name, "w", force_zip64=True)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


@dataclass
class _Batch:
    cases: list[Case]
    events: dict[int, list[CaseEvent]]
    attachments: dict[int, list[Attachment]]


def _batches(session: orm.Session, member_id: int, last_id: int) -> Iterator[_Batch]:
    """The member's cases up to `last_id` (fixed when the export began), BATCH at a time,
    each with its history and attachments (three queries per batch)."""
    after = 0
    while True:
        cases = (
            session.scalars(
                sa.select(Case)
                .where(Case.tenant_id == member_id, Case.id > after, Case.id <= last_id)
                .order_by(Case.id)
                .limit(BATCH)
            )
            .unique()
            .all()
        )
        if not cases:
            return
        ids = [c.id for c in cases]
        events: dict[int, list[CaseEvent]] = {}
        for event in session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.tenant_id == member_id, CaseEvent.case_id.in_(ids))
            .order_by(CaseEvent.id)
        ).unique():
            events.setdefault(event.case_id, []).append(event)
        attachments: dict[int, list[Attachment]] = {}
        for attachment in session.scalars(
            sa.select(Attachment)
            .where(Attachment.tenant_id == member_id, Attachment.case_id.in_(ids))
            .order_by(Attachment.id)
        ):
            attachments.setdefault(attachment.case_id, []).append(attachment)
        yield _Batch(cases, events, attachments)
        after = ids[-1]


def archive_names(reference: str, attachments: list[Attachment]) -> dict[int, str]:
    """Where each attachment goes in the archive: attachments/<reference>/<file name>,
    the name made safe to unpack and made unique within the case."""
    names, used = {}, set()
    for attachment in attachments:
        name = uploads.safe_display_name(attachment.filename).lstrip(".") or "fil"
        name = uploads.saved_name(name, attachment.content_type)
        stem, dot, ending = name.rpartition(".")
        stem, ending = (stem, f".{ending}") if dot and stem else (name, "")
        candidate, n = name, 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{stem}-{n}{ending}"
        used.add(candidate.casefold())
        names[attachment.id] = f"attachments/{reference}/{candidate}"
    return names


def write_archive(
    session: orm.Session,
    member: Tenant,
    upload_root: Path,
    out: IO[bytes],
    *,
    exported_by: str,
    now: datetime,
) -> ArchiveSummary:
    """Write the member's archive to `out` (a binary file)."""
    summary = ArchiveSummary()
    member = session.get(Tenant, member.id)
    last_id = (
        session.scalar(sa.select(sa.func.max(Case.id)).where(Case.tenant_id == member.id)) or 0
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme(member, now, exported_by))
        _write_settings(session, archive, member, upload_root, now, exported_by)
        _write_definitions(session, archive, member)
        _write_cases_json(session, archive, member, upload_root, last_id, summary)
        _write_cases_csv(session, archive, member, last_id)
        _write_attachments(session, archive, member, upload_root, last_id, summary)
        _write_staff(session, archive, member)
        _write_audit_log(session, archive, member)
    return summary


def _write_settings(session, archive, member: Tenant, upload_root, now, exported_by) -> None:
    switches = session.scalars(
        sa.select(TenantService)
        .where(TenantService.tenant_id == member.id)
        .order_by(TenantService.service_slug)
    ).all()
    logo = None
    if member.logo_storage_name:
        path = upload_root / str(member.id) / member.logo_storage_name
        if path.is_file():
            logo = f"logotyp{path.suffix}"
            archive.write(path, logo, compress_type=zipfile.ZIP_STORED)
    settings = {
        "exported_at": _moment(now),
        "exported_by": exported_by,
        "member": {
            "slug": member.slug,
            "name": member.name,
            "short_name": member.short_name,
            "kind": member.kind,
            "scb_code": member.scb_code,
            "orgnr": member.orgnr,
            "reference_prefix": member.reference_prefix,
            "default_language": member.default_language,
            "draft_days": member.draft_days,
            # The member's retention decisions (gallringsfrist), in months; None: none.
            "retention_months": member.retention_months,
            "population": member.population,
            "status": member.status,
            "member_since": member.member_since.isoformat() if member.member_since else None,
            "left_on": member.left_on.isoformat() if member.left_on else None,
            "colours": {"primary": member.primary_colour, "accent": member.accent_colour},
            "contact": {
                "website": member.website,
                "email": member.email,
                "phone": member.phone,
                "visiting_address": member.visiting_address,
            },
            "privacy_notice": member.privacy_notice,
            "accessibility_statement": member.accessibility_statement,
            "logo": logo,
        },
        "services": [
            {
                "slug": switch.service_slug,
                "title": localized(switch.definition.content["title"], "sv"),
                "version": switch.definition.version,
                "enabled": switch.enabled,
                "settings": switch.settings or {},
                # Its own period, when it has one (else the member's applies).
                "retention_months": (member.retention_by_service or {}).get(switch.service_slug),
            }
            for switch in switches
        ],
    }
    archive.writestr("settings.json", json.dumps(settings, ensure_ascii=False, indent=2))


def _write_definitions(session, archive, member: Tenant) -> None:
    """Every definition version the member's cases or switches name: what the answers'
    field names mean, as they were when the citizen answered."""
    used = sa.union(
        sa.select(Case.definition_id).where(Case.tenant_id == member.id),
        sa.select(TenantService.definition_id).where(TenantService.tenant_id == member.id),
    ).subquery()
    definitions = session.scalars(
        sa.select(ServiceDefinition)
        .where(ServiceDefinition.id.in_(sa.select(used.c[0])))
        .order_by(ServiceDefinition.slug, ServiceDefinition.version)
    ).all()
    body = [{"slug": d.slug, "version": d.version, "definition": d.content} for d in definitions]
    archive.writestr("definitions.json", json.dumps(body, ensure_ascii=False, indent=2))


def _form(forms: dict[int, ServiceForm], case: Case) -> ServiceForm:
    if case.definition_id not in forms:
        forms[case.definition_id] = ServiceForm(case.definition.content, {})
    return forms[case.definition_id]


def _retention(case: Case, member: Tenant, left_at) -> dict[str, Any]:
    """The period that applies to the case, where it was set, and when its personal data
    is due to be thinned (None while it is open at a member still taking cases, or with no
    period): the member keeps applying its own periods to this copy after leaving."""
    period = period_for(member, case.service_slug)
    ended = case.closed_at or left_at
    due = months_after(ended, period.months) if period.is_set and ended else None
    return {
        "months": period.months,
        "set_for": {SERVICE: "service", MEMBER: "member"}.get(period.source),
        "counts_from": _moment(ended),
        "due_at": _moment(due),
    }


def _case_json(
    case: Case, form: ServiceForm, events, attachments, names, present: set[int], retention
) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "service": {
            "slug": case.service_slug,
            "version": case.definition.version,
            "title": localized(case.definition.content["title"], "sv"),
        },
        "status": case.status,
        "status_label": status_label(case.status),
        "channel": case.channel,
        "submitted_at": _moment(case.submitted_at),
        "updated_at": _moment(case.updated_at),
        "closed_at": _moment(case.closed_at),
        # Thinned: the answers, history messages and files are gone already (gallrade).
        "thinned_at": _moment(case.thinned_at),
        "retention": retention,
        "assigned_to": (
            {"name": case.assigned_to.name, "email": case.assigned_to.email}
            if case.assigned_to
            else None
        ),
        "answers": case.answers,
        "summary": [
            {
                "step": step["title"],
                "rows": [{"label": r["label"], "value": r["value"]} for r in step["rows"]],
            }
            for step in form.summary(form.from_json(case.answers))
            if step["rows"]
        ],
        "history": [
            {
                "at": _moment(event.created_at),
                "kind": event.kind,
                "status": event.status,
                "message": event.message,
                "visible_to_citizen": event.visible_to_citizen,
                "author": event.author.name if event.author else None,
            }
            for event in events
        ],
        "attachments": [
            {
                "field": a.field_name,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "received_at": _moment(a.created_at),
                "path": names[a.id] if a.id in present else None,
            }
            for a in attachments
        ],
    }


def _write_cases_json(session, archive, member, upload_root, last_id, summary) -> None:
    forms: dict[int, ServiceForm] = {}
    left_at = member_left_at(member)
    with _text_entry(archive, "cases.json") as handle:
        handle.write("[")
        first = True
        for batch in _batches(session, member.id, last_id):
            for case in batch.cases:
                attachments = batch.attachments.get(case.id, [])
                names = archive_names(case.reference, attachments)
                present = set()
                for a in attachments:
                    if uploads.path_of(upload_root, member.id, a).is_file():
                        present.add(a.id)
                    else:
                        summary.missing_files.append(f"{case.reference}: {a.filename}")
                body = _case_json(
                    case,
                    _form(forms, case),
                    batch.events.get(case.id, []),
                    attachments,
                    names,
                    present,
                    _retention(case, member, left_at),
                )
                handle.write("\n" if first else ",\n")
                handle.write(json.dumps(body, ensure_ascii=False, indent=2))
                first = False
                summary.cases += 1
        handle.write("\n]\n")


CASES_HEADER = [
    "Ärende",
    "E-tjänst",
    "Version",
    "Status",
    "Kanal",
    "Inkommet",
    "Senast ändrat",
    "Avslutat",
    "Handläggare",
    "Bilagor",
    "Svar",
]


def _write_cases_csv(session, archive, member, last_id) -> None:
    forms: dict[int, ServiceForm] = {}
    with _text_entry(archive, "cases.csv") as handle:
        writer = _csv_writer(handle)
        writer.writerow(CASES_HEADER)
        for batch in _batches(session, member.id, last_id):
            for case in batch.cases:
                writer.writerow(
                    [
                        neutralise(cell)
                        for cell in (
                            case.reference,
                            localized(case.definition.content["title"], "sv"),
                            case.definition.version,
                            status_label(case.status),
                            case.channel,
                            _moment(case.submitted_at),
                            _moment(case.updated_at),
                            _moment(case.closed_at),
                            case.assigned_to.name if case.assigned_to else "",
                            len(batch.attachments.get(case.id, [])),
                            answers_text(_form(forms, case), case),
                        )
                    ]
                )


def _write_attachments(session, archive, member, upload_root, last_id, summary) -> None:
    for batch in _batches(session, member.id, last_id):
        for case in batch.cases:
            attachments = batch.attachments.get(case.id, [])
            for attachment_id, name in archive_names(case.reference, attachments).items():
                attachment = next(a for a in attachments if a.id == attachment_id)
                path = uploads.path_of(upload_root, member.id, attachment)
                if path.is_file():
                    # PDFs and photos are compressed already: stored as they are.
                    archive.write(path, name, compress_type=zipfile.ZIP_STORED)
                    summary.attachments += 1


def _write_staff(session, archive, member) -> None:
    rows = session.execute(
        sa.select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        # The member's own staff: the hub's roles at the hub member are the hub's.
        .where(Membership.tenant_id == member.id, Membership.role.in_(ROLES))
        .order_by(User.name, User.id)
    ).all()
    with force_locale("sv"):  # the archive is Swedish, whatever the hub's page was in
        roles = {role: str(name) for role, name in ROLES.items()}
    with _text_entry(archive, "staff.csv") as handle:
        writer = _csv_writer(handle)
        writer.writerow(["Namn", "E-post", "Roll", "Konto aktivt", "Arbetar här sedan"])
        for user, membership in rows:
            writer.writerow(
                [
                    neutralise(user.name),
                    neutralise(user.email),
                    roles.get(membership.role, membership.role),
                    "ja" if user.active else "nej",
                    _moment(membership.created_at),
                ]
            )


def _write_audit_log(session, archive, member) -> None:
    entries = session.scalars(
        sa.select(AuditEntry)
        # The member's own log: at the hub member, the hub's entries are the hub's.
        .where(AuditEntry.tenant_id == member.id, in_hub_log().is_(False))
        .order_by(AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=1000)
    )
    with _text_entry(archive, "audit_log.csv") as handle:
        writer = _csv_writer(handle)
        writer.writerow(
            ["Tid", "Vem", "Adress", "Händelse", "Händelsekod", "Objekttyp", "Objekt", "Detaljer"]
        )
        for entry in entries:
            writer.writerow(
                [
                    neutralise(cell)
                    for cell in (
                        _moment(entry.at),
                        entry.actor,
                        entry.address or "",
                        ACTIONS.get(entry.action, entry.action),
                        entry.action,
                        entry.object_type,
                        entry.object_ref,
                        json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True),
                    )
                ]
            )


def readme(member: Tenant, now: datetime, exported_by: str) -> str:
    return f"""Export av {member.name}s data från e-tjänsteplattformen
{"=" * (len(member.name) + 40)}

Exporterad {_moment(now)} av {exported_by}.
Medlem: {member.name} ({KIND_WORDS.get(member.kind, member.kind)}, SCB-kod {member.scb_code}), \
ärendenummer med prefixet {member.reference_prefix}.

Alla filer är öppna format: JSON och CSV i UTF-8, bilagorna som de lämnades in.
CSV-filerna har semikolon som avgränsare (som svenska Excel väntar sig) och börjar med
ett BOM-tecken så att Excel läser dem som UTF-8. En cell som börjar med = + - eller @
har fått en apostrof först, så att ett kalkylprogram inte tolkar den som en formel.
Tider anges enligt ISO 8601 i svensk tid med tidszon, till exempel 2026-03-01T10:15:00+01:00.

Filerna
-------
README.txt        Den här beskrivningen.
cases.json        Alla ärenden: referens, e-tjänst och version, status, kanal, tider,
                  handläggare, svaren som de sparades ("answers", fältnamn enligt
                  definitions.json) och som text ("summary"), hela historiken med
                  interna anteckningar ("visible_to_citizen": false) och bilagornas
                  metadata med sökväg i arkivet ("path"; null om filen saknades).
                  En bilaga med "field": "completion" skickade den sökande senare med
                  en komplettering ("received_at" är när).
                  "thinned_at": när ärendets personuppgifter gallrades (null: inte
                  gallrat). "retention": gallringsfristen som gäller ärendet i månader
                  ("months"), om den är beslutad för e-tjänsten eller medlemmen
                  ("set_for"), från när den räknas ("counts_from": när ärendet avslutades)
                  och när uppgifterna ska gallras ("due_at"). För ett ärende som är öppet
                  när exporten görs är båda null: fristen räknas från den dag det
                  avslutas, och lämnar medlemmen samverkan med ärendet öppet, från den
                  dag medlemmen lämnar (normalt dagen för den här exporten). "months"
                  null: ingen frist beslutad.
cases.csv         Samma ärenden en rad per ärende, med svaren som text.
attachments/      Bilagorna, en mapp per ärende: attachments/<ärendenummer>/<filnamn>.
                  Kontrollsumman (SHA-256) för varje fil står i cases.json.
definitions.json  De versioner av e-tjänsternas definitioner som ärendena lämnades in på
                  och som medlemmen använder: frågorna, fälten och deras namn.
settings.json     Medlemmens profil (namn, koder, färger, kontaktuppgifter, texter,
                  gallringsfrist i månader) och e-tjänster med version, av/på,
                  inställningar och egen gallringsfrist (null: medlemmens gäller).
staff.csv         Medarbetarna: namn, e-post, roll och sedan när de arbetar här.
audit_log.csv     Medlemmens logg: vem som gjorde vad och när, även navets åtkomster.
logotyp.*         Medlemmens logotyp, om den har laddat upp en.
"""
