from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, Timestamp, utcnow

# What a pool pays for (FACTS: operation and licences, one e-service's development, shared
# services that are not e-services at all).
CATEGORIES = {
    "platform": "Plattformens drift och licenser",
    "development": "Utveckling av en e-tjänst",
    "shared_service": "Annan gemensam tjänst",
}
KEYS = {
    "equal": "Lika delar",
    "population": "Efter folkmängd",
    "usage": "Efter användning (ärenden)",
    "percentages": "Fasta procentsatser",
    "hybrid": "Del lika, resten efter folkmängd eller användning",
}


class CostPool(Base):
    """An amount for a period that the participants share by a key. The hub's, not a
    member's: it names members but holds nothing of theirs."""

    __tablename__ = "cost_pools"
    __table_args__ = (
        sa.UniqueConstraint("period", "name"),
        sa.CheckConstraint("amount_ore >= 0", name="amount_not_negative"),
        sa.CheckConstraint(
            "key_kind IN ('equal', 'population', 'usage', 'percentages', 'hybrid')",
            name="known_key",
        ),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    period: orm.Mapped[str] = orm.mapped_column(sa.String(7))  # "2026" or "2026-03"
    name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    category: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    amount_ore: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)
    key_kind: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    # hybrid: {"equal_percent": "30", "rest": "population"|"usage"};
    # population: {"year": 2023}; usage: {"service": slug or null for every e-service}.
    key_settings: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON, default=dict)
    pro_rata: orm.Mapped[bool] = orm.mapped_column(default=False)
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    updated_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow, onupdate=utcnow)

    participants: orm.Mapped[list["PoolParticipant"]] = orm.relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="PoolParticipant.tenant_id"
    )


class PoolParticipant(Base):
    """A member sharing in a pool, with what the key needs of it when not taken from the
    platform: its agreed percentage, its population figure, the days it took part."""

    __tablename__ = "pool_participants"
    __table_args__ = (sa.PrimaryKeyConstraint("pool_id", "tenant_id"),)

    pool_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("cost_pools.id", ondelete="CASCADE"))
    tenant_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("tenants.id"))
    percentage: orm.Mapped[str | None] = orm.mapped_column(sa.String(20))  # "6.25"
    population: orm.Mapped[int | None]  # overrides the member's recorded figure
    joined_on: orm.Mapped[date | None]  # within the period, for pro rata
    left_on: orm.Mapped[date | None]

    pool: orm.Mapped[CostPool] = orm.relationship(back_populates="participants")
    tenant = orm.relationship("Tenant", lazy="joined")


class AllocationRun(Base):
    """One allocation of a period's pools, with every input it used, never changed after:
    a statement can be reproduced from it years later."""

    __tablename__ = "allocation_runs"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    period: orm.Mapped[str] = orm.mapped_column(sa.String(7), index=True)
    created_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    created_by: orm.Mapped[str] = orm.mapped_column(sa.String(254))
    inputs: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON)
    checksum: orm.Mapped[str] = orm.mapped_column(sa.String(64))

    shares: orm.Mapped[list["AllocationShare"]] = orm.relationship(
        order_by="(AllocationShare.pool_name, AllocationShare.tenant_slug)", viewonly=True
    )


class AllocationShare(Base):
    """A member's share of one pool in one run: the fraction of the key and the öre."""

    __tablename__ = "allocation_shares"
    __table_args__ = (sa.PrimaryKeyConstraint("run_id", "pool_id", "tenant_id"),)

    run_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("allocation_runs.id"))
    pool_id: orm.Mapped[int]  # as it was: the pool may be edited or removed later
    pool_name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    tenant_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("tenants.id"))
    tenant_slug: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    numerator: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)
    denominator: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)
    amount_ore: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)


def pool_name(text: str) -> str:
    """A pool's name as kept: spaces around and within made single ordinary ones (a
    trailing space or a non-breaking one from a spreadsheet must not make a second pool)."""
    return " ".join(text.split())


def same_pool_name(a: str, b: str) -> bool:
    """Two names that read as one (case aside): a period has one pool by that name."""
    return pool_name(a).casefold() == pool_name(b).casefold()


# The largest pool, in öre: 10 000 000 000 kr, far above any pool and far below BigInteger.
# The file and the form take the same (a pool imported must be editable in the form).
MAX_POOL_ORE = 10**12
