"""For the load balancer and the process manager: is the process alive, can it serve."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from samverkan.access import public
from samverkan.extensions import db

bp = Blueprint("health", __name__)

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
