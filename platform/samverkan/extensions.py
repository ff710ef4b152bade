"""Flask extensions, created unbound and attached in create_app()."""

import os

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from samverkan import rate_storage  # noqa: F401 - registers worker-memory://
from samverkan.db import Base
from samverkan.tenancy.request_session import RequestSession

# No pool_pre_ping: it would cost a round trip on every request. A connection found dead
# (PostgreSQL restarted, connections cut) fails that one request with a clear 503
# (errors.py) and makes the pool replace every connection it held before.
db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
# Batch mode lets later revisions alter SQLite tables (it cannot ALTER most things).
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()


class _Limiter(Limiter):
    """Flask-Limiter, without its before-request pass where that pass has nothing to check.

    Limits here are on views (their decorators check them when the view runs); the pass
    before each request applies only application, default, meta and blueprint limits
    and limits hinted for the endpoint, and there are none unless configured. Finding
    that out costs Flask-Limiter about a tenth of a public page's time; here it is a few
    look-ups, and any such limit, configured or hinted, turns the pass back on.
    """

    def init_app(self, app) -> None:
        super().init_app(app)
        manager = self.limit_manager
        # Read below; a Flask-Limiter without them must fail here, not skip limits.
        for owner, name in (
            (manager, "_application_limits"),
            (manager, "_default_limits"),
            (manager, "_blueprint_limits"),
            (self, "_meta_limits"),
            (self, "_in_memory_fallback"),
        ):
            if not hasattr(owner, name):
                raise RuntimeError(f"Flask-Limiter has no {name}: check extensions._Limiter")

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        if in_middleware and callable_name is None and not self._limits_before_views():
            return
        super()._check_request_limit(callable_name, in_middleware)

    def _limits_before_views(self) -> bool:
        manager = self.limit_manager
        return bool(
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or self._in_memory_fallback
            or manager.has_hints(self.identify_request() or "")
        )


# In memory by default; RATELIMIT_STORAGE_URI (e.g. redis://…) shares counts between workers.
limiter = _Limiter(key_func=get_remote_address)

# Seconds to wait for PostgreSQL to accept a connection. psycopg waits 130 by default,
# longer than gunicorn lets a request run: an unreachable server would end in a killed
# worker instead of a 503. A connect_timeout in the URL or PGCONNECT_TIMEOUT wins.
CONNECT_TIMEOUT = 5


@event.listens_for(PGDialect_psycopg, "do_connect")
def _bounded_connect(dialect, connection_record, cargs, cparams) -> None:
    if not os.environ.get("PGCONNECT_TIMEOUT"):
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT)
