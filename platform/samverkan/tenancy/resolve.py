"""Resolving the member a request is for: once, from the URL (or the host), never from a
header or form field the client controls."""

import sqlalchemy as sa
from flask import Flask, abort, current_app, g, redirect, request

from samverkan.extensions import db
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_pull_tenant_slug)
    app.url_defaults(_add_tenant_slug)
    app.before_request(_begin_transaction)
    app.before_request(_resolve_tenant)


def _pull_tenant_slug(endpoint, values) -> None:
    if values and "tenant" in values:
        g.tenant_slug = values.pop("tenant")


def _add_tenant_slug(endpoint, values) -> None:
    tenant = g.get("tenant")
    if (
        tenant is not None
        and "tenant" not in values
        and current_app.url_map.is_endpoint_expecting(endpoint, "tenant")
    ):
        values["tenant"] = tenant.slug


def _begin_transaction() -> None:
    """On SQLite a request that may write takes the write lock up front (BEGIN IMMEDIATE),
    so two submissions never both read a counter and then fail to upgrade their lock."""
    if request.path.startswith("/hub/"):
        return  # the hub writes only through across_members, which takes the lock itself
    if request.method not in SAFE_METHODS and db.engine.dialect.name == "sqlite":
        # Read the whole body first (it is cached for the view), so a slow client holds
        # up only its own request, never the lock every member's submissions wait for.
        request.get_data(cache=True)
        db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _resolve_tenant():
    host_slug = current_app.config["TENANT_HOSTS"].get(request.host.split(":")[0].lower())
    slug = g.pop("tenant_slug", None)
    if slug is None:
        if host_slug and request.path == "/":
            return redirect(f"/{host_slug}/")
        return None
    if host_slug and slug != host_slug:
        abort(404)  # a member's own host name serves that member only
    tenant = db.session.scalar(
        sa.select(Tenant).where(Tenant.slug == slug, Tenant.status == "active")
    )
    if tenant is None:
        abort(404)
    g.tenant = tenant
    bind_tenant(db.session, tenant.id)
    return None
