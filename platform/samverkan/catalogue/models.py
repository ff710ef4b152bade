from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, TenantScoped, Timestamp, utcnow


class Category(Base):
    """A heading the e-services are grouped under on a member's home page."""

    __tablename__ = "categories"

    key: orm.Mapped[str] = orm.mapped_column(sa.String(40), primary_key=True)
    title_sv: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    title_en: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    position: orm.Mapped[int] = orm.mapped_column(default=100)


class ServiceDefinition(Base):
    """One published, immutable version of a shared e-service definition."""

    __tablename__ = "service_definitions"
    __table_args__ = (sa.UniqueConstraint("slug", "version"),)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    slug: orm.Mapped[str] = orm.mapped_column(sa.String(60))
    version: orm.Mapped[int]
    category_key: orm.Mapped[str] = orm.mapped_column(sa.ForeignKey("categories.key"))
    content: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON)
    checksum: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    published_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)

    category: orm.Mapped[Category] = orm.relationship(lazy="joined")


class TenantService(TenantScoped, Base):
    """A member's switch and settings for one e-service, pinned to a definition version."""

    __tablename__ = "tenant_services"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "service_slug"),)

    service_slug: orm.Mapped[str] = orm.mapped_column(sa.String(60))
    definition_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("service_definitions.id"))
    enabled: orm.Mapped[bool] = orm.mapped_column(default=True)
    settings: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON, default=dict)
    # Set when a member's administrator switches or configures the service in the app; the
    # sync then keeps their choice instead of the tenant file's.
    edited_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
    updated_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    definition: orm.Mapped[ServiceDefinition] = orm.relationship(lazy="joined")
