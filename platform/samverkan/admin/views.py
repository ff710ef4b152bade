"""The tenant administrator's pages at /<member>/admin/."""

from flask import Blueprint, render_template

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN

bp = Blueprint("admin", __name__, template_folder="templates")


@bp.after_request
def _admin_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<slug:tenant>/admin/")
@staff(TENANT_ADMIN)
def overview():
    return render_template("admin/overview.html")
