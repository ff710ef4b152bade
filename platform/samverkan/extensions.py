"""Flask extensions, created unbound and attached in create_app()."""

import functools
import hmac
import ipaddress
import os
import time

from flask import current_app, g, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter._compat import request_context
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect, ValidationError, same_origin
from flask_wtf.csrf import logger as csrf_logger
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from samverkan import (
    rate_storage,  # noqa: F401 - registers worker-memory://
    signing,
)
from samverkan.db import Base
from samverkan.tenancy.request_session import RequestSession

# No pool_pre_ping: it would cost a round trip on every request. A connection found dead
# (PostgreSQL restarted, connections cut) fails that one request with a clear 503
# (errors.py) and makes the pool replace every connection it held before.
db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
# Batch mode lets later revisions alter SQLite tables (it cannot ALTER most things).
migrate = Migrate(render_as_batch=True, compare_type=True)


class _CSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF check, its steps in its order with its errors, but told first that
    a GET has nothing to check (it looks up the view's and blueprint's exemptions before
    the method, on every page), each of Flask's proxies looked up once (each costs a
    lookup of the context), and the token read with the serializer kept per secret
    (signing.py) instead of one built per check: this hook was a tenth of a web
    submission's Python calls (tests/bench/RESULTS.md)."""

    def protect(self, apply_exemptions: bool = False) -> None:
        current = request._get_current_object()
        config = current_app.config
        if current.method not in config["WTF_CSRF_METHODS"]:
            return
        if apply_exemptions and (not current.endpoint or self._is_exempt()):
            return
        try:
            signing.check_csrf_token(self._get_csrf_token())
        except ValidationError as error:
            csrf_logger.info(error.args[0])
            self._error_response(error.args[0])
        if current.is_secure and config["WTF_CSRF_SSL_STRICT"]:
            if not current.referrer:
                self._error_response("The referrer header is missing.")
            if not same_origin(current.referrer, f"https://{current.host}/"):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True


csrf = _CSRFProtect()
babel = Babel()
login_manager = LoginManager()


# Where Flask-Limiter keeps what a request's limit checks found (Limiter.context).
LIMITER_CONTEXT = "_limiter_request_context"


# How often a worker counting in its memory asks the shared storage whether it is back.
STORAGE_RETRY_SECONDS = 5.0


class _Limiter(Limiter):
    """Flask-Limiter, without its passes around a request where they have nothing to do.

    Limits here are on views (their decorators check them when the view runs); the pass
    before each request applies only application, default, meta and blueprint limits
    and limits hinted for the endpoint, and there are none unless configured. Finding
    that out costs Flask-Limiter about a tenth of a public page's time; here it is a few
    look-ups, and any such limit, configured or hinted, turns the pass back on. After the
    request, its headers and conditional deductions come from what the checks found, and
    a request that checked no limit found nothing: its hooks are then skipped.
    """

    def init_app(self, app) -> None:
        # Flask-Limiter takes these from the app's config only while they are unset, and
        # this one object serves every app a process makes (the tests make many): each app
        # has its own, or the first app's key prefix would name every later app's counts.
        self._key_prefix = self._strategy = self._swallow_errors = None
        super().init_app(app)
        manager = self.limit_manager
        # Read below; a Flask-Limiter without them must fail here, not skip limits.
        for owner, name in (
            (manager, "_application_limits"),
            (manager, "_default_limits"),
            (manager, "_blueprint_limits"),
            (self, "_meta_limits"),
            (self, "_in_memory_fallback"),
            (self, "_storage_dead"),
            (self, "_fallback_limiter"),
            (self, "_in_memory_fallback_enabled"),
        ):
            if not hasattr(owner, name):
                raise RuntimeError(f"Flask-Limiter has no {name}: check extensions._Limiter")
        self._storage_dead = False  # a storage just made is trusted until it fails
        self._storage_retry_at = 0.0
        # As this app says: Flask-Limiter keeps a fallback an earlier app switched on.
        self._in_memory_fallback_enabled = bool(
            app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED") or self._in_memory_fallback
        )
        self._fallback_limiter = (
            # Without a timer thread per count either (rate_storage.py).
            type(self._limiter)(rate_storage.WorkerMemoryStorage())
            if self._in_memory_fallback_enabled
            else None
        )
        if self.enabled:  # switched off (RATELIMIT_ENABLED), it registers no hooks at all
            self._after_limits_only(app)

    def fall_back(self, error: Exception) -> bool:
        """The shared storage failed (`error`): count in this worker's memory until it
        answers again, as Flask-Limiter does for its own limits, if the in-memory fallback
        is on (settings.py). False when it is not: the caller raises."""
        if self._fallback_limiter is None:
            return False
        if not self._storage_dead:
            self.logger.warning(
                "rate limit storage unreachable (%s): counting in the worker's memory", error
            )
            self._storage_dead = True
            self._storage_retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
        return True

    def retry_storage(self) -> None:
        """While counting in memory, ask the shared storage whether it answers again, at
        most every STORAGE_RETRY_SECONDS (Flask-Limiter asks only on its own limits)."""
        if not self._storage_dead or time.monotonic() < self._storage_retry_at:
            return
        self._storage_retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
        if self.storage.check():
            self.logger.info("rate limit storage answers again: counting there")
            self._storage_dead = False

    def _after_limits_only(self, app) -> None:
        """Run Flask-Limiter's after-request and teardown hooks only for a request that
        checked a limit: the others would make the request's context just to find it
        empty (about 15 µs of a form page in a worker). A Flask-Limiter whose hooks are not
        found fails here (a test sees each limited response's headers)."""
        after, teardown = app.after_request_funcs[None], app.teardown_request_funcs[None]
        for hooks, name in ((after, "__inject_headers"), (teardown, "__release_context")):
            found = [n for n, hook in enumerate(hooks) if _is_limiter_hook(hook, self, name)]
            if len(found) != 1:
                raise RuntimeError(f"Flask-Limiter's {name} hook not found: check _Limiter")
            if not hasattr(hooks[found[0]], "wraps"):
                hooks[found[0]] = _if_a_limit_was_checked(hooks[found[0]], hooks is after)

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


def _is_limiter_hook(hook, limiter: Limiter, name: str) -> bool:
    hook = getattr(hook, "wraps", hook)  # init_app again on the same app: wrapped already
    if isinstance(hook, functools.partial):  # after-request: partial(function, limiter)
        return hook.args == (limiter,) and getattr(hook.func, "__name__", "") == name
    return getattr(hook, "__self__", None) is limiter and hook.__name__ == name


# Flask-Limiter sets Retry-After on every limited answer; it means something only on a
# refusal (429) or an outage (503, errors.py), and a client may wait for nothing on others.
_RETRY_AFTER_STATUSES = frozenset({429, 503})


def _if_a_limit_was_checked(hook, after_request: bool = False):
    def hook_when_checked(value):
        if not hasattr(request_context(), LIMITER_CONTEXT):
            return value  # the response, for an after-request hook
        value = hook(value)
        if after_request and value.status_code not in _RETRY_AFTER_STATUSES:
            value.headers.pop("Retry-After", None)
        return value

    hook_when_checked.wraps = hook
    return hook_when_checked


# In memory by default; RATELIMIT_STORAGE_URI (e.g. redis://…) shares counts between workers.
def client_address_key() -> str:
    """Who a limit per client address counts: the address, but an IPv6 address by its /64
    (one subscriber's whole prefix: any host in it can take a new address at will)."""
    address = get_remote_address()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:  # an IPv4 client seen through IPv6
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


limiter = _Limiter(key_func=client_address_key)


def typed_key(kind: str, typed: str) -> str:
    """A limit's key for something a person typed (an e-mail address, or a password typed
    into its box by mistake): its keyed digest, so neither Flask-Limiter's log line when
    the limit is used up nor a shared storage's keys ever hold what was typed."""
    secret = current_app.secret_key
    secret = secret.encode() if isinstance(secret, str) else secret
    return f"{kind}:{hmac.digest(secret, typed.encode(), 'sha256').hex()[:32]}"


# Seconds to wait for PostgreSQL to accept a connection. psycopg waits 130 by default,
# longer than gunicorn lets a request run: an unreachable server would end in a killed
# worker instead of a 503. A connect_timeout in the URL or PGCONNECT_TIMEOUT wins.
CONNECT_TIMEOUT = 5


@event.listens_for(PGDialect_psycopg, "do_connect")
def _bounded_connect(dialect, connection_record, cargs, cparams) -> None:
    if not os.environ.get("PGCONNECT_TIMEOUT"):
        cparams.setdefault("connect_timeout", CONNECT_TIMEOUT)
