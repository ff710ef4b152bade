"""Writing to the audit log. Entries are only ever added, in the request's transaction, so
an action and its entry are committed (or rolled back) together."""

from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, orm

from samverkan.audit.models import AuditEntry
from samverkan.translatable import N_

# In an entry's detail: the entry is the hub's (hub/across.py), in the log kept at the hub
# member but not the hub member's own (admin/log.py shows it the one, hub/log.py the other).
HUB_LOG = "hub_log"


def in_hub_log() -> sa.ColumnElement[bool]:
    """True for an entry that is the hub's, in SQL (entries before the mark: false)."""
    return sa.func.coalesce(AuditEntry.detail[HUB_LOG].as_boolean(), False)


# What is logged, in the words the log pages show: Swedish here (the hub's archive), marked
# for the catalogue so that the member's log page words them in its language.
ACTIONS = {
    # The hub's reads and changes across members (hub/across.py), in the hub's log and,
    # where one member is concerned, in that member's log too.
    "hub.overview": N_("Navet: översikt över medlemmarna"),
    "hub.member_onboarded": N_("Navet: ny medlem"),
    "hub.member_exported": N_("Navet: exporterade medlemmens data"),
    "hub.member_offboarded": N_("Navet: medlem avslutad"),
    "hub.member_facts_changed": N_("Navet: ändrade organisationsnummer eller invånarantal"),
    "hub.versions_moved": N_("Navet: bytte e-tjänstversion"),
    "hub.version_withdrawn": N_("Navet: drog tillbaka en e-tjänstversion"),
    "hub.member_viewed": N_("Navet: visade medlemmens avslut och export"),
    "hub.versions_viewed": N_("Navet: visade vilka e-tjänstversioner medlemmarna använder"),
    "costs.counted": N_("Navet: räknade ärenden för kostnadsfördelning"),
    "costs.allocated": N_("Navet: körde kostnadsfördelning"),
    "costs.pools_changed": N_("Navet: ändrade kostnadspooler"),
    "contact.case_found": N_("Kontaktcenter: sökte ärende"),
    "contact.submission_registered": N_("Kontaktcenter: registrerade ärende åt den som ringde"),
    "contact.services_read": N_("Kontaktcenter: läste en medlems e-tjänster för att registrera"),
    "case.viewed": N_("Visade ärende"),
    "citizen.own_cases": N_("Den sökande såg sina ärenden i Mina ärenden (e-legitimation)"),
    "case.assigned": N_("Tilldelade ärende"),
    "case.transitioned": N_("Ändrade status"),
    "case.messaged": N_("Skrev till den sökande"),
    "case.completed": N_("Den sökande kompletterade"),
    "case.noted": N_("Skrev anteckning"),
    "case.exported": N_("Exporterade ärenden"),
    "case.export_sent": N_("Exporten skickades: vilka ärenden den innehöll"),
    "case.thinned": N_("Gallrade ärende"),
    "case.extract": N_("Tog fram registerutdrag"),
    "person.searched": N_("Sökte en persons ärenden (personnummer)"),
    "attachment.downloaded": N_("Hämtade bilaga"),
    "profile.changed": N_("Ändrade profil"),
    "service.changed": N_("Ändrade e-tjänst"),
    "staff.invited": N_("Bjöd in medarbetare"),
    "staff.joined": N_("Tackade ja till inbjudan"),
    "staff.invitation_withdrawn": N_("Drog tillbaka inbjudan"),
    "staff.removed": N_("Tog bort medarbetare"),
    "staff.role_changed": N_("Ändrade roll"),
    "staff.role_granted": N_("Gav en roll från kommandoraden"),
    "staff.deactivated": N_("Stängde av kontot (kan inte logga in någonstans)"),
    "staff.activated": N_("Öppnade kontot igen"),
    "token.created": N_("Skapade API-nyckel"),
    "token.revoked": N_("Återkallade API-nyckel"),
    "totp.enabled": N_("Slog på tvåstegsverifiering"),
    "totp.disabled": N_("Slog av tvåstegsverifiering"),
}

# Written to the hub's log alone (hub/across.py without a member): a member's log page
# does not offer them as a filter, since none of its entries can be one.
HUB_LOG_ONLY = frozenset(
    {
        "hub.overview",
        "hub.versions_viewed",
        "hub.version_withdrawn",
        "costs.counted",
        "costs.allocated",
        "costs.pools_changed",
        "contact.services_read",
    }
)

# The actions that only read: every other one changes what a member's export holds (its
# cases, profile, settings, staff), so an export older than it is not the whole member.
READ_ACTIONS = frozenset(
    {
        "hub.overview",
        "hub.member_exported",
        "hub.member_viewed",
        "hub.versions_viewed",
        "costs.counted",
        "contact.case_found",
        "contact.services_read",
        "case.viewed",
        "citizen.own_cases",
        "case.exported",
        "case.export_sent",
        "case.extract",
        "person.searched",
        "attachment.downloaded",
    }
)


# Actors that are no account, as stored (Swedish, or the tool's name), and as a log page
# says them in its language.
ACTOR_WORDS = {
    "den sökande (statuslänken)": N_("den sökande (statuslänken)"),
    "system": N_("systemet"),
    "cli": N_("kommandoraden"),
    "sync": N_("synkningen av filerna"),
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
