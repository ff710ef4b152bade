"""The hub's audit log: what the hub's staff did across members (hub/across.py). It is
kept at the hub member, but it is not that member's: Karlstad's own administrators see
their municipality's entries (admin/log.py), the hub's administrators these."""

from flask import render_template, request

from samverkan.access import hub
from samverkan.accounts.models import HUB_ADMIN
from samverkan.admin.log import describe, log_filters, log_page
from samverkan.audit.operations import ACTIONS, ACTOR_WORDS
from samverkan.hub.views import bp


@bp.get("/logg")
@hub(HUB_ADMIN)
def audit_log():
    filters, errors = log_filters(request.args)
    entries, next_cursor, bad_cursor = [], None, False
    if not errors:
        try:
            entries, next_cursor = log_page(request.args.get("cursor"), hubs=True, **filters)
        except ValueError:
            bad_cursor = True
    page = render_template(
        "hub/log.html",
        entries=entries,
        next_cursor=next_cursor,
        actions=ACTIONS,
        actor_words=ACTOR_WORDS,
        describe=describe,
        bad_cursor=bad_cursor,
        filters=filters,
        errors=errors,
    )
    return page, (422 if bad_cursor or errors else 200)
