"""For the load balancer and the process manager: is the process alive, can it serve."""

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from samverkan.access import public
from samverkan.extensions import db

bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz"})


def from_any_host(wsgi_app, config):
    """A load balancer or an orchestrator probes a backend by its own address, not by the
    site's name, so the probes answer whatever the Host header says: it is replaced by a
    trusted name before Flask refuses it (TRUSTED_HOSTS, 400). They show nothing a host
    name could be used for; every other path keeps the check.

    A host name is the same in any case (RFC 3986, 3.2.2), but werkzeug compares it with
    TRUSTED_HOSTS as written: it is lower-cased first, so `Host: Arvika.Example.se` is
    served as the member's own host, not refused."""

    def probed(environ, start_response):
        trusted = config.get("TRUSTED_HOSTS")
        if trusted and environ.get("PATH_INFO") in PROBES:
            environ = {**environ, "HTTP_HOST": trusted[0].lstrip(".")}
        else:
            host = environ.get("HTTP_HOST")
            if host and host != (lower := host.lower()):
                environ = {**environ, "HTTP_HOST": lower}
        return wsgi_app(environ, start_response)

    return probed


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
            problem = _role_problem()
        except sa.exc.DBAPIError as exc:
            db.session.rollback()
            if not exc.connection_invalidated:
                break
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            break
        else:
            if problem:
                logger.error("not ready: %s", problem)
                return jsonify({"status": "unavailable", "database": problem}), 503
            return jsonify({"status": "ok", "database": "ok"})
    return jsonify({"status": "unavailable", "database": "unreachable"}), 503


# On PostgreSQL, as whom the application connects: a role that owns the tables or
# bypasses row-level security would serve every member's rows to every request's query
# (the ORM's criteria the only guard left), and one the migrations granted nothing to
# would answer every page with 500. Either is no state to send traffic to.
_ROLE = sa.text(
    "SELECT r.rolsuper OR r.rolbypassrls AS unguarded,"
    " pg_has_role(current_user, t.tableowner, 'USAGE') AS owner,"
    " has_table_privilege('tenants', 'SELECT') AS can_read"
    " FROM pg_roles r, pg_tables t"
    " WHERE r.rolname = current_user AND t.schemaname = current_schema()"
    " AND t.tablename = 'tenants'"
)


def _role_problem() -> str | None:
    if db.engine.dialect.name != "postgresql":
        db.session.execute(sa.text("SELECT 1"))
        return None
    row = db.session.execute(_ROLE).one_or_none()
    if row is None:
        return "the tables are missing: run flask db upgrade"
    if row.unguarded or row.owner:
        return (
            "the application's database role owns the tables or bypasses row-level "
            "security: connect it as APP_DATABASE_ROLE (README, PostgreSQL)"
        )
    if not row.can_read:
        return "the application's database role may not read the tables: check APP_DATABASE_ROLE"
    return None
