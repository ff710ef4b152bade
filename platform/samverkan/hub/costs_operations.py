"""Changing the hub's cost pools. The session is the one `across_members` opens (pools
name members); these flush, the view commits."""

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.costs.models import CostPool, PoolParticipant, same_pool_name
from samverkan.db import utcnow
from samverkan.tenancy.models import Tenant


class PoolError(ValueError):
    """A pool that cannot be saved as entered; `field` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def name_taken(session: orm.Session, period: str, name: str, pool_id: int | None) -> bool:
    """Another pool of the period reads as this name (spaces and case aside)."""
    query = sa.select(CostPool.name).where(CostPool.period == period)
    if pool_id is not None:
        query = query.where(CostPool.id != pool_id)
    return any(same_pool_name(other, name) for other in session.scalars(query))


def save_pool(session: orm.Session, pool: CostPool | None, data: dict) -> CostPool:
    """Create a pool (pool None) or replace an existing one's fields and participants
    with `data` as costs_forms.read_pool_form gives it."""
    if name_taken(session, data["period"], data["name"], pool.id if pool else None):
        raise PoolError(
            "name", f"Det finns redan en pool som heter {data['name']} för {data['period']}."
        )
    if pool is None:
        pool = CostPool()
        session.add(pool)
    for name in ("period", "name", "category", "description", "amount_ore", "key_kind"):
        setattr(pool, name, data[name])
    pool.key_settings = data["key_settings"]
    pool.pro_rata = data["pro_rata"]
    # Set on every save, not only when a column of the pool changes: a change of its
    # participants alone makes the latest run out of date too (runs.pools_changed_since).
    pool.updated_at = utcnow()
    tenants = {
        t.slug: t
        for t in session.scalars(sa.select(Tenant).where(Tenant.slug.in_(data["participants"])))
    }
    existing = {p.tenant_id: p for p in pool.participants}
    kept = []
    for slug, figures in data["participants"].items():
        tenant = tenants[slug]
        participant = existing.get(tenant.id) or PoolParticipant(tenant_id=tenant.id)
        participant.tenant = tenant
        for name, value in figures.items():
            setattr(participant, name, value)
        kept.append(participant)
    pool.participants = kept  # delete-orphan removes the members no longer taking part
    session.flush()
    return pool


def delete_pool(session: orm.Session, pool: CostPool) -> None:
    """Stored runs keep their copy of the pool (name, amount, key, shares)."""
    session.delete(pool)
    session.flush()


def summary(pool: CostPool) -> dict:
    """What the audit log keeps of a pool: enough for a controller to see, years later,
    what a change took away (who shared it, by which key)."""
    return {
        "period": pool.period,
        "name": pool.name,
        "amount_ore": pool.amount_ore,
        "key": pool.key_kind,
        "key_settings": pool.key_settings or {},
        "participants": sorted(p.tenant.slug for p in pool.participants),
    }
