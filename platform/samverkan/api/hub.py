"""The hub's JSON API: the latest allocation of a period, for a hub administrator's token.

Guarded by `hub_token`: no token is 401, any token but a hub administrator's made at the
hub member is 404. Runs are the hub's own rows, read with the request's session.
"""

from flask import Blueprint, jsonify

from samverkan.access import hub_token
from samverkan.accounts.models import HUB_ADMIN
from samverkan.api.hub_schemas import AllocationRunOut
from samverkan.costs import runs, statements
from samverkan.errors import error_response
from samverkan.extensions import db

bp = Blueprint("hub_api", __name__, url_prefix="/api/v1")


@bp.after_request
def _never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/hub/allocations/<period>")
@hub_token(HUB_ADMIN)
def allocation(period: str):
    try:
        runs.period_bounds(period)
    except ValueError:
        db.session.commit()  # the token's last use
        body = {
            "message": "Perioden behöver rättas.",
            "errors": {"period": ["Skriv perioden som ett år (2026) eller en månad (2026-03)."]},
        }
        return jsonify(body), 422
    latest = runs.latest_run(db.session, period)
    if latest is None:
        db.session.commit()
        return error_response(404, f"Ingen fördelning har körts för {period}.")
    body = statements.run_json(latest)
    body["created_at"] = latest.created_at
    body["pools_changed"] = runs.pools_changed_since(db.session, latest)
    body = AllocationRunOut().dump(body)
    db.session.commit()
    return jsonify(body)
