"""Two database roles on PostgreSQL: the owner runs migrations and maintenance (the sync),
the application runs as a role that owns nothing and is held by row-level security.

DATABASE_URL names the owner. The application connects with APP_DATABASE_URL, or — where
the server trusts local connections, as in development and CI — as APP_DATABASE_ROLE on
the same server and database. SQLite has no roles: both are the same file.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm

from samverkan.tenancy.scoping import allow_all_tenants

APP_ROLE = "samverkan_app"


def app_url(owner_url: str, app_url_setting: str | None, role: str) -> str:
    if app_url_setting:
        return app_url_setting
    url = sa.make_url(owner_url)
    if url.get_backend_name() != "postgresql":
        return owner_url
    return url.set(username=role, password=None).render_as_string(hide_password=False)


_owner_engines: dict[str, sa.Engine] = {}


def owner_engine() -> sa.Engine:
    """An engine for the owner's URL (one per URL, made on first use)."""
    url = current_app.config["OWNER_DATABASE_URI"]
    if current_app.config["SQLALCHEMY_DATABASE_URI"] == url:
        from samverkan.extensions import db

        return db.engine
    if url not in _owner_engines:
        # As the application's engine: a failing statement never quotes its parameters
        # (the contact centre registers a caller's answers through this one).
        _owner_engines[url] = sa.create_engine(
            url, poolclass=sa.pool.NullPool, hide_parameters=True
        )
    return _owner_engines[url]


@contextmanager
def maintenance_session() -> Iterator[orm.Session]:
    """A session as the owner, across every member: for the sync and maintenance commands.
    The caller commits; an exception rolls everything back."""
    session = orm.Session(bind=owner_engine())
    allow_all_tenants(session)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
