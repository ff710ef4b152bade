"""The staff JSON API: a member's cases for its own staff, with per-user tokens."""

from flask import Blueprint

bp = Blueprint("staff_api", __name__, url_prefix="/api/v1")
