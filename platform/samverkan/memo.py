"""Short-lived, per-worker memories of what pages read on every request: the member, its
e-services, the rendered public pages built from them, and who is signed in at a member.

Each memory keeps an entry for a time to live (seconds from the app's config; 0 turns it
off). Any commit that changes a member, an e-service's settings, a definition, a
category, a user or a membership forgets every memory at once in its own process, and
tells the others by replacing a small file in the instance folder (`changes.signal`):
every worker and the CLI share that folder, and each request looks at the file (one
stat) before it uses a memory. The time to live then bounds only changes made around
the app (SQL by hand). Tests forget everything between tests.
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, orm

MAX_ENTRIES = 4096
SIGNAL_FILE = "changes.signal"
_memories: list["Memo"] = []
_signal: dict[str, Any] = {"path": None, "seen": None}


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
        if ttl <= 0 or changed_elsewhere():
            return  # read before another process's change: not worth keeping
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


def init_app(app: Flask) -> None:
    path = Path(app.instance_path) / SIGNAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    _signal.update(path=path, seen=_stamp(path))
    app.before_request(forget_if_changed_elsewhere)


def _stamp(path: Path) -> tuple | None:
    """The file as it is now. A replacement changes its inode, time or size, except two
    within one clock tick that reuse an inode: then the time to live still bounds it."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def changed_elsewhere() -> bool:
    path = _signal["path"]
    return path is not None and _stamp(path) != _signal["seen"]


def forget_if_changed_elsewhere() -> None:
    path = _signal["path"]
    if path is None:
        return
    stamp = _stamp(path)
    if stamp != _signal["seen"]:
        _signal["seen"] = stamp
        forget_all()


def _tell_other_processes() -> None:
    """Runs after a commit: the change is stored, so a failure here (a read-only or full
    instance folder) must not fail the request; the others then see it after the time to
    live. The stamp seen here is left as it was, so a change another process made in the
    same moment is still noticed (at the cost of forgetting once more)."""
    path = _signal["path"]
    if path is None:
        return
    draft = path.with_name(f"{SIGNAL_FILE}.{uuid.uuid4().hex}")
    try:
        draft.write_text(f"{time.time()} {uuid.uuid4().hex}\n")
        os.replace(draft, path)  # atomic: a reader sees the old file or the new, never half
    except OSError as exc:
        logging.getLogger(__name__).warning("could not signal a change to other workers: %s", exc)
        draft.unlink(missing_ok=True)


def _changes_what_is_remembered(obj) -> bool:
    from samverkan.accounts.models import Membership, User
    from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
    from samverkan.tenancy.models import Tenant

    return isinstance(
        obj, Tenant | TenantService | ServiceDefinition | Category | User | Membership
    )


@event.listens_for(orm.Session, "before_flush")
def _note_changes(session, flush_context, instances) -> None:
    if any(map(_changes_what_is_remembered, (*session.new, *session.dirty, *session.deleted))):
        session.info["remembered_changed"] = True


@event.listens_for(orm.Session, "after_commit")
def _forget_on_commit(session) -> None:
    if session.info.pop("remembered_changed", False):
        forget_all()
        _tell_other_processes()


@event.listens_for(orm.Session, "after_soft_rollback")
def _nothing_changed(session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop("remembered_changed", None)
