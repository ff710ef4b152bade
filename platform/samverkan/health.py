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
    """The database answers too; 503 while it does not, so no traffic is sent here.

    A pooled connection found dead (the database restarted since it was last used) is
    asked once more on a new one: the question is whether the database answers now."""
    for _ in range(2):
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as exc:
            db.session.rollback()
            if not exc.connection_invalidated:
                break
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            break
        else:
            return jsonify({"status": "ok", "database": "ok"})
    return jsonify({"status": "unavailable", "database": "unreachable"}), 503
