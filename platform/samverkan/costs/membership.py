"""Who shares a period's costs: a member for some day of the period, and for a pool that
names no one ("all" in a file, the form's first choice) the municipalities among them.
A region joins for its own e-services (FACTS: Region Värmland for e-health) and its
population is the county's, so it takes part only where a pool names it."""

import datetime

from samverkan.tenancy.models import Tenant


def member_during(tenant: Tenant, start: datetime.date, end: datetime.date) -> bool:
    """A member for some day of start … end (every member since it joined unless it left)."""
    if tenant.member_since and tenant.member_since > end:
        return False
    if tenant.left_on:
        return tenant.left_on >= start
    return tenant.status == "active"


def shares_by_default(tenant: Tenant, start: datetime.date, end: datetime.date) -> bool:
    """Taken into a pool that names no one: a municipality that was a member then."""
    return tenant.kind == "municipality" and member_during(tenant, start, end)


def membership_text(tenant: Tenant) -> str:
    """When the member was one, in Swedish: "medlem från 2027-03-01", "lämnade 2026-06-30"."""
    parts = []
    if tenant.member_since:
        parts.append(f"medlem från {tenant.member_since.isoformat()}")
    if tenant.left_on:
        parts.append(f"lämnade {tenant.left_on.isoformat()}")
    elif tenant.status != "active":
        parts.append("avslutad")
    return ", ".join(parts)
