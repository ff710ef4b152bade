"""What every template can use: the tenant, texts in the right language, dates."""

from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.exc import SQLAlchemyError

from samverkan import memo
from samverkan.cases.status import label as status_label
from samverkan.catalogue.fields import localized
from samverkan.catalogue.uploads import accept_attribute
from samverkan.clock import SWEDEN

MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]


def local_datetime(value: datetime | None) -> str:
    """'23 november 2026 kl. 14.05' in Swedish time."""
    if value is None:
        return ""
    local = value.astimezone(SWEDEN)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} kl. {local:%H.%M}"


_hub = memo.Memo("TENANT_CACHE_SECONDS")


def hub_slug() -> str | None:
    """The hub's slug, for the footer of the platform's own pages (the member list, the hub's
    pages): the hub runs the platform, so its statement and notice are the ones that apply.
    None while the database cannot answer (the 503 page must still render)."""
    slug = _hub.get("hub")
    if slug is None:
        from samverkan.extensions import db
        from samverkan.tenancy.models import Tenant

        try:
            slug = db.session.scalar(sa.select(Tenant.slug).where(Tenant.is_hub.is_(True)))
        except SQLAlchemyError:
            db.session.rollback()
            return None
        if slug:
            _hub.put("hub", slug)
    return slug


def init_app(app: Flask) -> None:
    app.jinja_env.globals["hub_slug"] = hub_slug
    app.jinja_env.filters["local_datetime"] = local_datetime
    app.jinja_env.filters["t"] = lambda text: localized(text, g.get("lang", "sv"))
    app.jinja_env.globals["status_label"] = status_label
    app.jinja_env.globals["file_accept"] = accept_attribute

    @app.context_processor
    def _globals():
        from samverkan.accounts.models import HUB_ROLES, ROLES
        from samverkan.accounts.session import current_membership

        membership = current_membership()
        hub_membership = g.get("hub_membership")
        return {
            "hub_role_label": HUB_ROLES.get(hub_membership.role) if hub_membership else None,
            "staff_role": membership.role if membership else None,
            "staff_role_label": ROLES.get(membership.role) if membership else None,
            "tenant": g.get("tenant"),
            "platform_name": current_app.config["PLATFORM_NAME"],
            "region_name": current_app.config["REGION_NAME"],
            "lang": g.get("lang", "sv"),
        }
