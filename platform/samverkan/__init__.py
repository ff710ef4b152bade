"""Samverkan: one e-service platform shared by the members of a region."""

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, request
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from samverkan import database_roles, health, memo, observability, routing, signing, urls
from samverkan import settings as settings_module
from samverkan.extensions import csrf, db, limiter, migrate
from samverkan.jsonprovider import SafeJSONProvider
from samverkan.request_body import FormRequest

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(e_id_issuer: str) -> str:
    """The policy, with the e-ID provider as a form's second allowed destination: signing
    out is a form posted here that redirects there, and browsers hold redirects after a
    form to form-action too."""
    if not e_id_issuer:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(e_id_issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


class SamverkanFlask(Flask):
    json_provider_class = SafeJSONProvider
    request_class = FormRequest  # a plain form's fields read without werkzeug's machinery
    # Every template is a file of ours, so all are kept (a dict): Jinja's default keeps the
    # latest 400 in an LRU whose every look-up searches a queue of them (a staff page looks
    # up three), ~3 % of the inbox's CPU.
    jinja_options = {"cache_size": -1}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.link_memory = urls.LinkMemory(self)

    def url_for(
        self,
        endpoint: str,
        /,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values,
    ) -> str:
        """Flask's, with a request's relative links remembered (urls.py)."""
        if _anchor is None and _method is None and _scheme is None and not _external:
            memory = self.link_memory
            if "token" in values:
                link = memory.link_with_token(endpoint, values, super().url_for)
                if link is not None:
                    return link
            key = memory.key(endpoint, values)
            if key is not None:
                link = memory.get(key)
                if link is None:
                    link = memory.remember(key, super().url_for(endpoint, **values))
                return link
        return super().url_for(
            endpoint,
            _anchor=_anchor,
            _method=_method,
            _scheme=_scheme,
            _external=_external,
            **values,
        )

    def ensure_sync(self, func):
        """Flask asks inspect whether each hook and view is a coroutine, about twenty times a
        request; the answer for a function never changes, so it is kept (none here is)."""
        try:
            return self._sync_functions[func]
        except KeyError:
            sync = self._sync_functions[func] = super().ensure_sync(func)
            return sync
        except AttributeError:
            self._sync_functions = {}
            return self.ensure_sync(func)


def create_app(config: dict | None = None) -> Flask:
    app = SamverkanFlask(__name__)
    app.config.update(settings_module.load_settings(config))
    # The configured URL is the owner's; the application itself runs as a role held by
    # row-level security (database_roles.py).
    owner = _with_driver(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["OWNER_DATABASE_URI"] = owner
    app.config["SQLALCHEMY_DATABASE_URI"] = _with_driver(
        database_roles.app_url(
            owner, app.config["APP_DATABASE_URL"], app.config["APP_DATABASE_ROLE"]
        )
    )
    app.instance_path = app.config["INSTANCE_PATH"]
    app.wsgi_app = health.from_any_host(app.wsgi_app, app.config)  # inside ProxyFix's Host
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    # Database errors quote their statement's parameters (answers, personnummer): never
    # into a log or an error page.
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}).setdefault("hide_parameters", True)
    observability.init_app(app)  # first: every other hook's log lines carry the request id
    memo.init_app(app)  # before any hook that reads a memory: changes elsewhere forgotten
    routing.init_app(app)  # before any blueprint's rules are built
    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings_module.PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    signing.init_app(app)  # after csrf: its csrf_token() for templates replaces Flask-WTF's
    limiter.init_app(app)
    with app.app_context():
        _configure_engine(db.engine)

    from samverkan import errors, i18n, models, templating  # noqa: F401 - models: every table
    from samverkan.accounts import session as account_session
    from samverkan.accounts.token_views import bp as api_tokens_bp
    from samverkan.accounts.views import bp as accounts_bp
    from samverkan.admin.views import bp as admin_bp
    from samverkan.api.hub import bp as hub_api_bp
    from samverkan.api.staff import bp as staff_api_bp
    from samverkan.api.views import bp as api_bp
    from samverkan.casework.views import bp as casework_bp
    from samverkan.citizen.views import bp as citizen_bp
    from samverkan.cli import register_commands
    from samverkan.health import bp as health_bp
    from samverkan.hub.views import bp as hub_bp
    from samverkan.identity import current as identity_current
    from samverkan.identity import provider as identity_provider
    from samverkan.identity.views import bp as identity_bp
    from samverkan.tenancy import resolve

    resolve.init_app(app)
    i18n.init_app(app)  # after resolve: the member's default language needs the member
    templating.init_app(app)
    errors.init_app(app)
    csrf.exempt(api_bp)  # JSON API: no cookies, so no cross-site request to forge
    csrf.exempt(staff_api_bp)  # bearer tokens, never cookies
    csrf.exempt(hub_api_bp)  # bearer tokens, never cookies
    app.register_blueprint(api_bp)
    app.register_blueprint(staff_api_bp)
    app.register_blueprint(hub_api_bp)
    app.register_blueprint(citizen_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(api_tokens_bp)
    app.register_blueprint(casework_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(hub_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(identity_bp)
    identity_provider.init_app(app)
    identity_current.init_app(app)
    account_session.init_app(app)
    register_commands(app)

    safe_headers = (
        # Nothing inline anywhere (scripts, styles, handlers): the policy can say so.
        ("Content-Security-Policy", content_security_policy(app.config["CITIZEN_OIDC_ISSUER"])),
        ("X-Content-Type-Options", "nosniff"),
        # Status links carry a private token in the path: never send it to another site.
        ("Referrer-Policy", "same-origin"),
    )
    over_tls = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

    @app.after_request
    def _safe_headers(response):
        # Each unless the view set its own (a few set a stricter policy). One pass over
        # the headers: werkzeug's look-up of an absent one raises and catches KeyError.
        present = {name.lower() for name, _ in response.headers}
        wanted = (*safe_headers, over_tls) if request.is_secure else safe_headers
        response.headers.extend([h for h in wanted if h[0].lower() not in present])
        return response

    return app


def _with_driver(url: str) -> str:
    """PostgreSQL URLs use psycopg 3 (the URL may name no driver or an old one)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _readable_by_us_only(path: Path) -> None:
    """The SQLite file holds every answer (personnummer among them): made 0600, as the
    uploads and mails are, not as the umask leaves it (world-readable). SQLite gives its
    -wal and -shm files the database file's permissions."""
    try:
        if not path.exists():
            # Made empty before SQLite opens it. Never opened here once it exists: closing
            # any descriptor of a SQLite file drops every lock this process holds on it.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except FileExistsError:  # made meanwhile by another process: SQLite's own
        pass
    except OSError as exc:  # another user's file, a read-only folder: say so, go on
        logging.getLogger(__name__).warning("could not make %s private: %s", path, exc)


def _configure_engine(engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    if engine.url.database not in (None, "", ":memory:"):
        _readable_by_us_only(Path(engine.url.database))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
