"""Each worker remembers the members it has served for a short while (memo.py), so a page
that only reads does not ask the database who the member is on every request.

The remembered row is a detached copy, shared by the worker's requests and used as it
is: merging it into each request's session cost more than the rest of the member's part
of a page. So it is read-only: setting any of its attributes, or adding it to a session
(where a commit would expire it under every other request), raises. Requests that change
anything read the member afresh, except on routes marked `remembered_member_will_do`: a
citizen's form steps and submission, whose writes check in the database itself that the
member and its e-service still take cases (the numbering statement, cases/statements.py),
so a copy out of date cannot let one in.
"""

from collections.abc import Callable
from types import MappingProxyType

from flask import current_app, request
from sqlalchemy import event, orm

from samverkan.memo import Memo
from samverkan.tenancy.models import Tenant

_members = Memo("TENANT_CACHE_SECONDS")
_READ_ONLY = "_samverkan_remembered_copy"  # marks the shared copy in its __dict__
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RememberedMemberChanged(RuntimeError):
    """Code tried to change or attach the shared copy: it must read the member afresh."""


def remembered_member_will_do(view: Callable) -> Callable:
    """This route's writes check the member and e-service themselves (see above)."""
    view.remembered_member_will_do = True  # type: ignore[attr-defined]
    return view


def memory_will_do() -> bool:
    """Whether this request may use the worker's remembered member and e-services."""
    current = request._get_current_object()  # once: each use of the proxy finds it again
    if current.method in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(current.endpoint)
    return getattr(view, "remembered_member_will_do", False)


def remembered(slug: str) -> Tenant | None:
    """The worker's read-only copy of the member, if it has a recent one."""
    return _members.get(slug)


def remember(tenant: Tenant) -> None:
    mapper = orm.class_mapper(Tenant)
    values = {attr.key: getattr(tenant, attr.key) for attr in mapper.column_attrs}
    # A JSON column's dict is not the loaded row's, and cannot be changed in place.
    values = {k: MappingProxyType(dict(v)) if isinstance(v, dict) else v for k, v in values.items()}
    copy = Tenant(**values)
    orm.make_transient_to_detached(copy)
    copy.__dict__[_READ_ONLY] = True  # after the constructor's own sets
    _members.put(tenant.slug, copy)


def _refuse_change(target, value, oldvalue, initiator):
    if target.__dict__.get(_READ_ONLY):
        raise RememberedMemberChanged(f"the remembered member's {initiator.key} was set")
    return value


for _attribute in orm.class_mapper(Tenant).column_attrs:
    event.listen(getattr(Tenant, _attribute.key), "set", _refuse_change, retval=True)


@event.listens_for(orm.Session, "before_attach")
def _refuse_attach(session, instance) -> None:
    if instance.__dict__.get(_READ_ONLY):
        raise RememberedMemberChanged("the remembered member was added to a session")
