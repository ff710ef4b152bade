"""Each worker remembers the members it has served for a few seconds (memo.py), so a page
that only reads does not ask the database who the member is on every request.

The remembered row is a detached copy; a request gets it merged into its own session
without a query (`merge(load=False)`), so it behaves as a loaded row: after a commit it
is refreshed as usual. Requests that change anything read the member afresh.
"""

from sqlalchemy import orm

from samverkan.memo import Memo
from samverkan.tenancy.models import Tenant

_members = Memo("TENANT_CACHE_SECONDS")


def remembered(session: orm.Session, slug: str) -> Tenant | None:
    copy = _members.get(slug)
    return None if copy is None else session.merge(copy, load=False)


def remember(tenant: Tenant) -> None:
    mapper = orm.class_mapper(Tenant)
    copy = Tenant(**{attr.key: getattr(tenant, attr.key) for attr in mapper.column_attrs})
    orm.make_transient_to_detached(copy)
    _members.put(tenant.slug, copy)
