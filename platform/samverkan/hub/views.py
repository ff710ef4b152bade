"""The hub's pages at /hub/: thin routes; the work is in hub/operations.py and costs/."""

from flask import Blueprint, render_template

from samverkan.access import hub
from samverkan.accounts.models import CONTACT_CENTRE, HUB_ADMIN

bp = Blueprint("hub", __name__, template_folder="templates", url_prefix="/hub")


@bp.after_request
def _hub_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@hub(HUB_ADMIN, CONTACT_CENTRE)
def overview():
    return render_template("hub/overview.html")


from samverkan.hub import contact, costs_views  # noqa: E402,F401
