"""Short-lived, per-worker memories of what public pages read on every request: the member,
its e-services, and the rendered pages built from them.

Each memory keeps an entry for a time to live (seconds from the app's config; 0 turns it
off). Any commit in this worker that changes a member, an e-service's settings, a
definition or a category forgets every memory at once; other workers see the change
within the time to live. Tests forget everything between tests.
"""

import threading
import time
from collections.abc import Hashable
from typing import Any

from flask import current_app
from sqlalchemy import event, orm

MAX_ENTRIES = 4096
_memories: list["Memo"] = []


class Memo:
    def __init__(self, ttl_setting: str) -> None:
        self.ttl_setting = ttl_setting
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        _memories.append(self)

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        ttl = current_app.config[self.ttl_setting]
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def forget_all() -> None:
    for memo in _memories:
        memo.clear()


def _changes_public_pages(obj) -> bool:
    from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
    from samverkan.tenancy.models import Tenant

    return isinstance(obj, Tenant | TenantService | ServiceDefinition | Category)


@event.listens_for(orm.Session, "before_flush")
def _note_changes(session, flush_context, instances) -> None:
    if any(map(_changes_public_pages, (*session.new, *session.dirty, *session.deleted))):
        session.info["public_pages_changed"] = True


@event.listens_for(orm.Session, "after_commit")
def _forget_on_commit(session) -> None:
    if session.info.pop("public_pages_changed", False):
        forget_all()


@event.listens_for(orm.Session, "after_soft_rollback")
def _nothing_changed(session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop("public_pages_changed", None)
