"""Each worker remembers the members it has served for a short while (memo.py), so a page
that only reads does not ask the database who the member is on every request.

The remembered row is a detached copy; a request gets it merged into its own session
without a query (`merge(load=False)`), so it behaves as a loaded row: after a commit it
is refreshed as usual. Requests that change anything read the member afresh, except on
routes marked `remembered_member_will_do`: a citizen's form steps and submission, whose
writes check in the database itself that the member and its e-service still take cases
(the numbering statement, cases/statements.py), so a copy out of date cannot let one in.
"""

from collections.abc import Callable

from flask import current_app, request
from sqlalchemy import orm

from samverkan.memo import Memo
from samverkan.tenancy.models import Tenant

_members = Memo("TENANT_CACHE_SECONDS")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def remembered_member_will_do(view: Callable) -> Callable:
    """This route's writes check the member and e-service themselves (see above)."""
    view.remembered_member_will_do = True  # type: ignore[attr-defined]
    return view


def memory_will_do() -> bool:
    """Whether this request may use the worker's remembered member and e-services."""
    if request.method in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "remembered_member_will_do", False)


def remembered(session: orm.Session, slug: str) -> Tenant | None:
    copy = _members.get(slug)
    return None if copy is None else session.merge(copy, load=False)


def remember(tenant: Tenant) -> None:
    mapper = orm.class_mapper(Tenant)
    copy = Tenant(**{attr.key: getattr(tenant, attr.key) for attr in mapper.column_attrs})
    orm.make_transient_to_detached(copy)
    _members.put(tenant.slug, copy)
