"""Declarative base, constraint naming, and the mixin every tenant table uses."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import orm

# Stable constraint names so Alembic revisions (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Timestamp(sa.TypeDecorator):
    """A moment in time, always time-zone aware in Python and stored as UTC.

    PostgreSQL keeps the zone itself; SQLite keeps text without one, so values are turned
    into UTC on the way in and marked as UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(orm.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TenantScoped:
    """Rows that belong to one member. Queries on these see only the bound tenant.

    Every such table carries `tenant_id` first in its keys, so children can refer to their
    parent with a composite foreign key (tenant_id, parent_id) and a row can never point
    into another municipality's data.
    """

    @orm.declared_attr
    def tenant_id(cls) -> orm.Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return orm.mapped_column(sa.ForeignKey("tenants.id"), nullable=False, index=False)
