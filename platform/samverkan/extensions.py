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

# No pool_pre_ping: it would cost a round trip on every request. A connection found dead
# (PostgreSQL restarted, connections cut) fails that one request with a clear 503
# (errors.py) and makes the pool replace every connection it held before.
db = SQLAlchemy(model_class=Base)
# Batch mode lets later revisions alter SQLite tables (it cannot ALTER most things).
migrate = Migrate(render_as_batch=True, compare_type=True)
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
# In memory by default; RATELIMIT_STORAGE_URI (e.g. redis://…) shares counts between workers.
limiter = Limiter(key_func=get_remote_address)

# Seconds to wait for PostgreSQL to accept a connection. psycopg waits 130 by default,
# longer than gunicorn lets a request run: an unreachable server would end in a killed
# worker instead of a 503. A connect_timeout in the URL or PGCONNECT_TIMEOUT wins.
CONNECT_TIMEOUT = 5


@event.listens_for(PGDialect_psycopg, "do_connect")
def _bounded_connect(dialect, connection_record, cargs, cparams) -> None:
    if not os.environ.get("PGCONNECT_TIMEOUT"):
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT)
