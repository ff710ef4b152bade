from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, Timestamp, utcnow

# What a member is: a municipality (kommun) or a region; each e-service says which it is
# for (catalogue/offers.py).
MUNICIPALITY, REGION = "municipality", "region"
MEMBER_KINDS = (MUNICIPALITY, REGION)


class Tenant(Base):
    """A member of the collaboration: a municipality (or a region) with its own pages."""

    __tablename__ = "tenants"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    slug: orm.Mapped[str] = orm.mapped_column(sa.String(40), unique=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    short_name: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    is_hub: orm.Mapped[bool] = orm.mapped_column(default=False)
    scb_code: orm.Mapped[str] = orm.mapped_column(sa.String(4), unique=True)
    orgnr: orm.Mapped[str | None] = orm.mapped_column(sa.String(11))
    reference_prefix: orm.Mapped[str] = orm.mapped_column(sa.String(3), unique=True)
    default_language: orm.Mapped[str] = orm.mapped_column(sa.String(2), default="sv")
    population_count: orm.Mapped[int | None]
    population_year: orm.Mapped[int | None]
    population_source: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    primary_colour: orm.Mapped[str] = orm.mapped_column(sa.String(7))
    accent_colour: orm.Mapped[str] = orm.mapped_column(sa.String(7))
    website: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    email: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    phone: orm.Mapped[str | None] = orm.mapped_column(sa.String(40))
    visiting_address: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    # What the member's administrators edit themselves (tenants/*.toml gives the start).
    logo_storage_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
    logo_content_type: orm.Mapped[str | None] = orm.mapped_column(sa.String(40))
    privacy_notice: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    accessibility_statement: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # Set when an administrator first saves the profile: from then on the sync leaves the
    # profile (name, colours, contact) to them.
    profile_edited_at: orm.Mapped[datetime | None] = orm.mapped_column(Timestamp)
    # Retention (gallring): whole months after a case is closed, as the member's own
    # dokumenthanteringsplan decides. None: not decided, so nothing is ever thinned.
    retention_months: orm.Mapped[int | None]
    # Per e-service overrides, {service slug: months}, set on the e-service's settings page.
    retention_by_service: orm.Mapped[dict[str, int]] = orm.mapped_column(
        sa.JSON, default=dict, server_default=sa.text("'{}'")
    )
    # How many days a citizen's saved draft is kept before it is deleted (1–365).
    draft_days: orm.Mapped[int] = orm.mapped_column(default=30, server_default=sa.text("30"))
    # active; closed once offboarded (pages closed, cases read-only until retention).
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20), default="active")
    member_since: orm.Mapped[date | None]
    left_on: orm.Mapped[date | None]
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    updated_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    @property
    def population(self) -> dict:
        """The figure the collaboration uses, with its reference year and source."""
        return {
            "year": self.population_year,
            "count": self.population_count,
            "source": self.population_source,
        }

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"
