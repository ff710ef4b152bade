"""Files a citizen attaches: checked by content, stored outside the web root."""

import hashlib
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import filetype
from sqlalchemy import event, orm

# What each allowed kind is called for people, the MIME type its content must sniff as,
# and the file name endings a browser's file picker offers for it.
FILE_KINDS = {
    "pdf": ("PDF", "application/pdf", ".pdf"),
    "jpeg": ("JPEG", "image/jpeg", ".jpg,.jpeg"),
    "png": ("PNG", "image/png", ".png"),
}


def accept_attribute(spec: dict) -> str:
    """The HTML accept attribute for a file field: a hint to the picker, never trusted."""
    kinds = spec.get("accept", list(FILE_KINDS))
    return ",".join(FILE_KINDS[kind][1] + "," + FILE_KINDS[kind][2] for kind in kinds)


@dataclass(frozen=True)
class IncomingFile:
    """A file that has arrived with a request and passed its checks, not yet stored."""

    filename: str
    data: bytes
    kind: str

    @property
    def content_type(self) -> str:
        return FILE_KINDS[self.kind][1]


@dataclass(frozen=True)
class StoredFile:
    """A file kept under a server-made name; what answers and attachments refer to."""

    filename: str
    storage_name: str
    content_type: str
    size: int
    sha256: str

    def to_json(self) -> dict:
        return {"file": asdict(self)}

    @classmethod
    def from_json(cls, value: dict) -> "StoredFile":
        return cls(**value["file"])


def sniff_kind(data: bytes) -> str | None:
    """The allowed kind the content really is, whatever the file name says."""
    guess = filetype.guess(data[:8192])
    if guess is None:
        return None
    for kind, (_, mime, _endings) in FILE_KINDS.items():
        if guess.mime == mime:
            return kind
    return None


def safe_display_name(filename: str) -> str:
    """The citizen's file name without any path, for showing and for downloads only."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 200:  # shortened in its stem: the extension says what the file is
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= 10:
            return stem[: 199 - len(extension)] + "." + extension
    return name[:200] or "fil"


def saved_name(filename: str, content_type: str) -> str:
    """The name a stored file is downloaded (or archived) under: the citizen's, but ending
    as its content is. A PDF sent as beslut.hta or kvitto.html would otherwise be run by
    the case worker's computer when opened, whatever its content was checked to be."""
    endings = next((e.split(",") for _, mime, e in FILE_KINDS.values() if mime == content_type), [])
    stem, dot, ending = filename.rpartition(".")
    if not endings or (dot and stem.strip(". ") and f".{ending.lower()}" in endings):
        return filename
    base = (stem if dot else filename).strip(". ") or "fil"
    return base + endings[0]


def store(upload_root: Path, tenant_id: int, incoming: IncomingFile) -> StoredFile:
    """Write the file under the tenant's folder with a random name; never the citizen's name."""
    folder = upload_root / str(tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    storage_name = f"{secrets.token_hex(16)}.{incoming.kind}"
    # Owner-only: these are personal documents (medical certificates among them).
    fd = os.open(folder / storage_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(incoming.data)
    return StoredFile(
        filename=safe_display_name(incoming.filename),
        storage_name=storage_name,
        content_type=incoming.content_type,
        size=len(incoming.data),
        sha256=hashlib.sha256(incoming.data).hexdigest(),
    )


# The files written for what a session's transaction stores (a case's attachments, a
# draft's), kept only if it commits.
_WRITTEN = "samverkan.files_written"


def store_for(
    session: orm.Session, upload_root: Path, tenant_id: int, incoming: IncomingFile
) -> StoredFile:
    """store(), for the session's transaction: the file is removed again unless that
    transaction commits (the request refused later, a lost connection at COMMIT), so no
    personal document stays on disk that no row points at."""
    if isinstance(session, orm.scoped_session):
        session = session()
    session.connection()  # the transaction the file belongs to (begun already, as a rule)
    stored = store(upload_root, tenant_id, incoming)
    session.info.setdefault(_WRITTEN, []).append(upload_root / str(tenant_id) / stored.storage_name)
    return stored


# What store() names files: nothing else in answers is taken for a file on disk.
STORAGE_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")

# Files a change leaves unnamed (a draft's file replaced, or its field now hidden), for
# the session's transaction: removed once it commits, kept if it does not.
_DROPPED = "samverkan.files_dropped"


def remove_after_commit(session: orm.Session, upload_root: Path, tenant_id: int, name: str):
    """Delete a stored file (by its storage name) once the session's transaction commits."""
    if isinstance(session, orm.scoped_session):
        session = session()
    session.info.setdefault(_DROPPED, []).append(upload_root / str(tenant_id) / name)


def storage_names(answers: dict | None) -> set[str]:
    """The storage names of the files answers (as stored, JSON) hold."""
    names = set()
    for value in (answers or {}).values():
        if isinstance(value, dict) and isinstance(value.get("file"), dict):
            name = value["file"].get("storage_name")
            if isinstance(name, str) and STORAGE_NAME.match(name):
                names.add(name)
    return names


@event.listens_for(orm.Session, "after_commit")
def _keep_written(session: orm.Session) -> None:
    if not session.in_nested_transaction():  # a savepoint released is not yet kept
        session.info.pop(_WRITTEN, None)
        for path in session.info.pop(_DROPPED, ()):
            path.unlink(missing_ok=True)


@event.listens_for(orm.Session, "after_transaction_end")
def _remove_uncommitted(session: orm.Session, transaction) -> None:
    if transaction.parent is None:  # the outermost: a savepoint's end decides nothing
        for path in session.info.pop(_WRITTEN, ()):
            path.unlink(missing_ok=True)
        session.info.pop(_DROPPED, None)  # not committed: still named, so kept


def remove(upload_root: Path, tenant_id: int, stored: StoredFile) -> None:
    """Delete a stored file that ended up belonging to nothing."""
    (upload_root / str(tenant_id) / stored.storage_name).unlink(missing_ok=True)


def path_of(upload_root: Path, tenant_id: int, attachment) -> Path:
    """Where a stored attachment's bytes are (under its member's own folder)."""
    return upload_root / str(tenant_id) / attachment.storage_name
