"""Writing to the audit log. Entries are only ever added, in the request's transaction, so
an action and its entry are committed (or rolled back) together."""

from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, orm

from samverkan.audit.models import AuditEntry

# What is logged, in the words the log page shows.
ACTIONS = {
    # The hub's reads and changes across members (hub/across.py), in the hub's log and,
    # where one member is concerned, in that member's log too.
    "hub.overview": "Navet: översikt över medlemmarna",
    "hub.member_onboarded": "Navet: ny medlem",
    "hub.member_exported": "Navet: exporterade medlemmens data",
    "hub.member_offboarded": "Navet: medlem avslutad",
    "hub.versions_moved": "Navet: bytte e-tjänstversion",
    "hub.member_viewed": "Navet: visade medlemmens avslut och export",
    "hub.versions_viewed": "Navet: visade vilka e-tjänstversioner medlemmarna använder",
    "costs.counted": "Navet: räknade ärenden för kostnadsfördelning",
    "costs.allocated": "Navet: körde kostnadsfördelning",
    "costs.pools_changed": "Navet: ändrade kostnadspooler",
    "contact.case_found": "Kontaktcenter: sökte ärende",
    "contact.submission_registered": "Kontaktcenter: registrerade ärende åt den som ringde",
    "contact.services_read": "Kontaktcenter: läste en medlems e-tjänster för att registrera",
    "case.viewed": "Visade ärende",
    "citizen.own_cases": "Den sökande såg sina ärenden i Mina ärenden (e-legitimation)",
    "case.assigned": "Tilldelade ärende",
    "case.transitioned": "Ändrade status",
    "case.noted": "Skrev anteckning",
    "case.exported": "Exporterade ärenden",
    "case.thinned": "Gallrade ärende",
    "case.extract": "Tog fram registerutdrag",
    "attachment.downloaded": "Hämtade bilaga",
    "profile.changed": "Ändrade profil",
    "service.changed": "Ändrade e-tjänst",
    "staff.invited": "Bjöd in medarbetare",
    "staff.joined": "Tackade ja till inbjudan",
    "staff.removed": "Tog bort medarbetare",
    "staff.role_changed": "Ändrade roll",
    "token.created": "Skapade API-nyckel",
    "token.revoked": "Återkallade API-nyckel",
    "totp.enabled": "Slog på tvåstegsverifiering",
    "totp.disabled": "Slog av tvåstegsverifiering",
}


def record(
    session: orm.Session,
    action: str,
    object_type: str,
    object_ref: str,
    detail: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
    actor: str | None = None,
    tenant_id: int | None = None,
) -> AuditEntry:
    """Add one entry. Who and from where come from the request unless given."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    address = None
    if has_request_context():
        address = request.remote_addr
        if actor is None and current_user.is_authenticated:
            actor_id, actor = current_user.id, current_user.email
    entry = AuditEntry(
        tenant_id=tenant_id,  # None: the bound member's log
        actor_id=actor_id,
        actor=actor or "system",
        address=address,
        action=action,
        object_type=object_type,
        object_ref=str(object_ref)[:120],
        detail=detail or {},
    )
    session.add(entry)
    return entry


@event.listens_for(orm.Session, "before_flush")
def _append_only(session: orm.Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise PermissionError("the audit log is append-only")
