"""Resolving the member a request is for: once, from the URL (or the host), never from a
header or form field the client controls."""

import functools

import sqlalchemy as sa
from flask import Flask, abort, current_app, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from samverkan.extensions import db
from samverkan.tenancy import snapshot
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.request_session import bind_when_made

SAFE_METHODS = snapshot.SAFE_METHODS
# A closed member (offboarded by the hub): what citizens reach is gone, except the files
# its staff pages still style themselves with; its staff may sign in and read, and change
# nothing but their own sign-in (and API keys, to read through the API).
CLOSED_PUBLIC_BLUEPRINTS = frozenset({"citizen", "api"})
# The controller's privacy notice (and the accessibility statement) stay readable while
# the member's cases are kept, until retention deletes them.
CLOSED_STILL_SERVED = frozenset(
    {
        "citizen.theme",
        "citizen.logo",
        "citizen.privacy_notice",
        "citizen.accessibility_statement",
    }
)
CLOSED_STILL_WRITABLE = frozenset({"accounts", "api_tokens"})
# What only takes access away stays open at a closed member: its administrator removes the
# staff who should no longer read its cases (they are kept until retention deletes them).
CLOSED_STILL_WRITABLE_ENDPOINTS = frozenset({"admin.remove"})


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_pull_tenant_slug)
    app.url_defaults(_add_tenant_slug)
    app.before_request(_begin_transaction)
    app.before_request(_resolve_tenant)


def _pull_tenant_slug(endpoint, values) -> None:
    if values and "tenant" in values:
        g.tenant_slug = values.pop("tenant")


def _add_tenant_slug(endpoint, values) -> None:
    if "tenant" in values:
        return
    tenant = g.get("tenant")
    if tenant is not None and _expects_tenant(current_app.url_map, endpoint):
        values["tenant"] = tenant.slug


@functools.lru_cache(maxsize=1024)
def _expects_tenant(url_map, endpoint: str) -> bool:
    """Asked for every url_for of a member's page (a staff page makes a dozen): werkzeug
    walks the endpoint's rules each time, and they do not change once the app is made."""
    return url_map.is_endpoint_expecting(endpoint, "tenant")


# Pages that write when read: an audit entry of who read what, an API key's last use.
# On SQLite they take the write lock up front too: a read that turns into a write fails
# at once ("database is locked") when another request wrote meanwhile.
WRITES_WHEN_READ = frozenset(
    {
        "casework.case",
        "casework.attachment",
        "casework.export",
        "casework.extract",
        "casework.extract_json",
        "citizen.extract",
        "citizen.extract_json",
        "identity.my_cases",
    }
)
WRITES_WHEN_READ_BLUEPRINTS = frozenset({"staff_api", "hub_api"})  # keys' last use


def _writes(current) -> bool:
    if current.method not in SAFE_METHODS:
        return True
    return current.endpoint in WRITES_WHEN_READ or current.blueprint in WRITES_WHEN_READ_BLUEPRINTS


def _begin_transaction() -> None:
    """On SQLite a request that may write takes the write lock up front (BEGIN IMMEDIATE),
    so two submissions never both read a counter and then fail to upgrade their lock."""
    current = request._get_current_object()  # once: each use of the proxy finds it again
    if current.path.startswith("/hub/") or not _writes(current):
        return  # the hub writes only through across_members, which takes the lock itself
    if db.engine.dialect.name == "sqlite":
        # Read the whole body first (it is cached for the view), so a slow client holds
        # up only its own request, never the lock every member's submissions wait for.
        current.get_data(cache=True)
        db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _resolve_tenant():
    current, state = request._get_current_object(), g._get_current_object()  # looked up once
    host_slug = current_app.config["TENANT_HOSTS"].get(current.host.split(":")[0].lower())
    slug = state.pop("tenant_slug", None)
    if slug is None:
        if host_slug and current.path == "/":
            return redirect(f"/{host_slug}/")
        return None
    if host_slug and slug != host_slug:
        abort(404)  # a member's own host name serves that member only
    # Reading: the worker's recent copy will do (snapshot.py). Writing: the row as it is.
    reading = snapshot.memory_will_do()
    tenant = snapshot.remembered(slug) if reading else None
    if tenant is None:
        tenant = db.session.scalar(
            sa.select(Tenant).where(Tenant.slug == slug, Tenant.status.in_(("active", "closed")))
        )
        if tenant is None:
            abort(404)
        if reading:
            snapshot.remember(tenant)
    state.tenant = tenant
    state.member_slug = slug  # for the log, which must not reload an expired row to say it
    bind_when_made(db.session, tenant.id)
    if tenant.status == "closed":
        return _closed_member_answer(tenant)
    return None


def _closed_member_answer(tenant: Tenant):
    """410 for a closed member's public pages and API; 409 for any change its staff try
    (the cases are read-only until retention deletes them); None to let a read through."""
    if request.blueprint in CLOSED_PUBLIC_BLUEPRINTS:
        if request.endpoint in CLOSED_STILL_SERVED:
            return None
        code, title = 410, _("%(name)s använder inte längre e-tjänsterna här", name=tenant.name)
        message = _(
            "%(name)s har lämnat samverkan. Sidorna och e-tjänsterna är stängda.", name=tenant.name
        )
    elif (
        request.method not in SAFE_METHODS
        and request.blueprint not in CLOSED_STILL_WRITABLE
        and request.endpoint not in CLOSED_STILL_WRITABLE_ENDPOINTS
    ):
        code, title = 409, _("Medlemmen är avslutad")
        message = _("Medlemmen är avslutad; ärendena kan bara läsas.")
    else:
        return None
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "message": message}), code
    if code == 410:
        g.pop("tenant")  # no links into the closed pages
    page = render_template(
        "hub/members_closed.html",
        code=code,
        title=title,
        message=message,
        member=tenant,
        staff_change=code == 409,
    )
    return page, code
