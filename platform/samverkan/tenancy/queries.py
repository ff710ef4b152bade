"""Reading members across the platform (the Tenant table is not tenant-scoped)."""

import sqlalchemy as sa

from samverkan.extensions import db
from samverkan.tenancy.models import Tenant

# Swedish alphabetical order puts å, ä, ö after z, whatever the database's collation says.
_SWEDISH_ORDER = str.maketrans({"å": "z\u0001", "ä": "z\u0002", "ö": "z\u0003"})


def swedish_sort_key(text: str) -> str:
    return text.casefold().translate(_SWEDISH_ORDER)


def active_members() -> list[Tenant]:
    """Every active member, in Swedish alphabetical order of name."""
    rows = db.session.scalars(sa.select(Tenant).where(Tenant.status == "active")).all()
    return sorted(rows, key=lambda tenant: swedish_sort_key(tenant.name))
