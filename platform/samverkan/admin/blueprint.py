"""The admin blueprint, shared by the page modules (views.py imports them all)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, template_folder="templates")


@bp.after_request
def _admin_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response
