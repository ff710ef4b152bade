"""For the load balancer and the process manager: is the process alive, can it serve."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from samverkan.access import public
from samverkan.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def alive():
    """The process answers: nothing more is checked."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@public
def ready():
    """The database answers too; 503 while it does not, so no traffic is sent here."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
