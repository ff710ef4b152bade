"""The member's audit log, newest first, paged by a keyset on (at, id): the index
(tenant_id, at, id) serves every page alike, however long the log grows."""

import base64
import json
from datetime import UTC

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from samverkan.access import staff
from samverkan.accounts.models import ROLES, TENANT_ADMIN
from samverkan.admin.blueprint import bp
from samverkan.audit.models import AuditEntry
from samverkan.audit.operations import ACTIONS, ACTOR_WORDS, HUB_LOG_ONLY, in_hub_log
from samverkan.cases import status
from samverkan.casework.queries import decode_cursor
from samverkan.extensions import db
from samverkan.i18n import current_language
from samverkan.staff_frame import render_staff_page

PAGE_SIZE = 50
# Profile fields as the profile page names them.
FIELD_LABELS = {
    "name": _l("namn"),
    "short_name": _l("kortnamn"),
    "website": _l("webbplats"),
    "email": _l("e-post"),
    "phone": _l("telefon"),
    "visiting_address": _l("besöksadress"),
    "primary_colour": _l("huvudfärg"),
    "accent_colour": _l("accentfärg"),
    "privacy_notice": _l("integritetsmeddelande"),
    "accessibility_statement": _l("tillgänglighetsredogörelse"),
    "retention_months": _l("gallringsfrist (månader)"),
    "draft_days": _l("sparade svar (dagar)"),
    "default_language": _l("språk"),
}


def describe(entry: AuditEntry) -> str:
    """What the entry's detail says, in a few words of the page's language (empty when
    nothing to add)."""
    detail = entry.detail or {}
    changes = detail.get("changes") or {}
    if entry.action == "case.messaged":  # the status stayed: say which it is
        return status.label(detail.get("to", "?"), current_language(), staff=True)
    if entry.action == "case.transitioned":
        lang = current_language()
        before, after = (status.label(detail.get(k, "?"), lang, staff=True) for k in ("from", "to"))
        return f"{before} → {after}"
    if entry.action in ("token.created", "token.revoked") and "label" in detail:
        # Its object is the key's number: the label and owner are what a reader knows it by.
        return _("”%(label)s”, %(user)s", label=detail["label"], user=detail.get("user", "?"))
    if entry.action == "costs.allocated" and "run" in detail:
        return _(
            "körning %(run)s för %(period)s", run=detail["run"], period=detail.get("period", "?")
        )
    if entry.action == "person.searched":
        return ", ".join(detail.get("found") or []) or _("inga ärenden")
    if entry.action == "case.assigned":
        if detail.get("assignee_id") is None:
            return _("till ingen")
        # Entries before the name was logged have only the account's number.
        return _("till %(name)s", name=detail.get("assignee") or f"#{detail['assignee_id']}")
    if "fields" in detail:
        return ", ".join(
            str(FIELD_LABELS.get(name, name))
            + (_change_text(changes[name]) if name in changes else "")
            for name in detail["fields"]
        )
    if "retention_months" in changes:
        return str(FIELD_LABELS["retention_months"]) + _change_text(changes["retention_months"])
    if "logo" in detail:
        return _("ny logotyp") if detail["logo"] == "uploaded" else _("logotypen borttagen")
    if "enabled" in detail:
        return _("påslagen") if detail["enabled"] else _("avslagen")
    if "settings" in detail:
        return _("inställningar: %(names)s", names=", ".join(detail["settings"]))
    if "to" in detail:
        before = ROLES.get(detail.get("from"), "?") if detail.get("from") else "–"  # a new role
        return f"{before} → {ROLES.get(detail['to'], '?')}"
    if "role" in detail:
        return str(ROLES.get(detail["role"], ""))
    return ""


def _change_text(change: dict) -> str:
    """': 24 → 36', an empty value (the default applies) as '–'."""

    def shown(value) -> str:
        return "–" if value is None else str(value)

    return f": {shown(change.get('from'))} → {shown(change.get('to'))}"


def _cursor(entry: AuditEntry) -> str:
    raw = json.dumps([entry.at.astimezone(UTC).isoformat(), entry.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Entries that name cases in their detail rather than as their object (an export's list,
# Mina ärenden): found by a reference too.
NAMING_CASES_IN_DETAIL = ("case.export_sent", "citizen.own_cases", "person.searched")


def log_filters(args) -> tuple[dict, dict]:
    """The log page's filters from its query (`avser`: a case's reference or whatever an
    entry is about, `handling`: one kind of entry), and the errors by field."""
    about = (args.get("avser") or "").strip()
    action = (args.get("handling") or "").strip()
    errors = {}
    if len(about) > 200:
        errors["avser"] = [_("Skriv högst 200 tecken.")]
    if action and action not in ACTIONS:
        errors["handling"] = [_("Välj en av händelserna i listan.")]
    return {"about": about or None, "action": action or None}, errors


def log_page(
    cursor: str | None,
    limit: int = PAGE_SIZE,
    *,
    hubs: bool = False,
    about: str | None = None,
    action: str | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """One page of the bound member's entries and the cursor of the next (or None): its
    own, or with `hubs` (the hub member bound) the hub's; only those `about` one object
    (a case's reference also finds the entries that list it) and of one `action`, when
    given. ValueError for a cursor that is not one of ours."""
    hub_log = in_hub_log()
    query = (
        sa.select(AuditEntry)
        .where(hub_log.is_(True) if hubs else hub_log.is_(False))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    if about:
        listed = sa.and_(
            AuditEntry.action.in_(NAMING_CASES_IN_DETAIL),
            sa.cast(AuditEntry.detail, sa.Text).contains(f'"{about}"', autoescape=True),
        )
        query = query.where(sa.or_(AuditEntry.object_ref == about, listed))
    if action:
        query = query.where(AuditEntry.action == action)
    if cursor:
        at, entry_id = decode_cursor(cursor)
        query = query.where(sa.tuple_(AuditEntry.at, AuditEntry.id) < sa.tuple_(at, entry_id))
    rows = db.session.scalars(query.limit(limit + 1)).all()
    entries = list(rows[:limit])
    return entries, (_cursor(entries[-1]) if len(rows) > limit else None)


@bp.get("/<slug:tenant>/admin/logg")
@staff(TENANT_ADMIN)
def audit_log():
    filters, errors = log_filters(request.args)
    page = {
        "actions": ACTIONS,
        "choices": {code: label for code, label in ACTIONS.items() if code not in HUB_LOG_ONLY},
        "actor_words": ACTOR_WORDS,
        "describe": describe,
        "filters": filters,
        "errors": errors,
    }
    if errors:
        return render_staff_page(
            "admin/log.html", entries=[], next_cursor=None, bad_cursor=False, **page
        ), 422
    try:
        entries, next_cursor = log_page(request.args.get("cursor"), **filters)
    except ValueError:
        return render_staff_page(
            "admin/log.html", entries=[], next_cursor=None, bad_cursor=True, **page
        ), 422
    return render_staff_page(
        "admin/log.html", entries=entries, next_cursor=next_cursor, bad_cursor=False, **page
    )
