"""Uploads scanned for malware by ClamAV's daemon (clamd), when CLAMD_SOCKET names one.

Fail closed: a file is taken only on clamd's plain "OK". An infected file, and any file
while clamd cannot be reached, answers late or says something else, is refused before
anything is written.

The client is written here rather than taken from PyPI: the old `clamd` package is
unmaintained, and its maintained fork (clamav-client) connects without a timeout, reads an
unbounded line, and returns an empty result when clamd answers nothing — which a caller
could take for "clean". The INSTREAM protocol is small enough to get exactly right here.
"""

import logging
import re
import socket
import struct
import time
from dataclasses import dataclass

from flask import current_app, g, has_app_context, has_request_context

INFECTED = "Filen innehåller skadlig kod och togs inte emot."
UNAVAILABLE = (
    "Filen kunde inte kontrolleras mot skadlig kod just nu och togs därför inte emot. "
    "Försök igen om en stund."
)
# clamd's own default for StreamMaxLength; a file must stay below what it accepts.
CLAMD_DEFAULT_STREAM_MAX_MB = 25
# Seconds for every scan of one request together (a completion's five files, a step's
# several fields): well inside gunicorn's 30 s worker time-out.
DEFAULT_TIMEOUT = 10.0
MB = 1024 * 1024
CHUNK = 64 * 1024
MAX_REPLY = 4096
# "stream: OK" or "stream: Eicar-Signature FOUND", NUL-terminated after the z-command.
REPLY = re.compile(r"^stream: (?:OK|(?P<signature>[\x21-\x7e][\x20-\x7e]{0,200}) FOUND)$")

log = logging.getLogger(__name__)


class ScannerUnavailable(Exception):
    """clamd could not give a verdict: unreachable, too slow, or an answer not understood."""


@dataclass(frozen=True)
class ClamdScanner:
    """A clamd reached at a unix socket path or at host:port."""

    address: str
    timeout: float
    stream_max_bytes: int

    @property
    def max_file_bytes(self) -> int:
        """The largest file to send: a megabyte under what clamd takes whole (a longer
        stream it refuses unscanned), so the limit citizens read is a whole number."""
        return self.stream_max_bytes - MB

    def scan(self, data: bytes, deadline: float | None = None) -> str | None:
        """The signature clamd found in `data`, or None when clean; ScannerUnavailable
        when there is no verdict by `deadline` (time.monotonic(); by default the timeout
        from now, for the whole exchange, so that a slow clamd cannot hold a web worker
        past its own time-out)."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        try:
            with self._connect(deadline) as conn:
                _send(conn, b"zINSTREAM\0", deadline)
                for start in range(0, len(data), CHUNK):
                    chunk = data[start : start + CHUNK]
                    _send(conn, struct.pack("!L", len(chunk)) + chunk, deadline)
                _send(conn, struct.pack("!L", 0), deadline)
                reply = _read_reply(conn, deadline)
        except OSError as exc:  # refused, missing socket, timed out, reset
            raise ScannerUnavailable(f"clamd at {self.address}: {exc}") from exc
        match = REPLY.match(reply)
        if match is None:
            raise ScannerUnavailable(f"clamd at {self.address} answered {reply[:200]!r}")
        return match.group("signature")

    def _connect(self, deadline: float | None = None) -> socket.socket:
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        if "/" in self.address:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(_left(deadline))
            try:
                conn.connect(self.address)
            except OSError:
                conn.close()
                raise
            return conn
        host, _, port = self.address.rpartition(":")
        return socket.create_connection((host.strip("[]"), int(port)), timeout=_left(deadline))


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no verdict in time")
    return left


def _send(conn: socket.socket, data: bytes, deadline: float) -> None:
    conn.settimeout(_left(deadline))
    conn.sendall(data)


def _read_reply(conn: socket.socket, deadline: float) -> str:
    """One NUL-terminated reply, bounded in size and in time."""
    reply = b""
    while b"\0" not in reply and len(reply) <= MAX_REPLY:
        conn.settimeout(_left(deadline))
        part = conn.recv(MAX_REPLY)
        if not part:
            break
        reply += part
    return reply.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def scanner_from(config) -> ClamdScanner | None:
    """The configured scanner, or None when scanning is off (CLAMD_SOCKET unset)."""
    address = (config.get("CLAMD_SOCKET") or "").strip()
    if not address:
        return None
    port = re.fullmatch(r"\S+:(\d{1,5})", address)
    if "/" not in address and not (port and 0 < int(port.group(1)) < 65536):
        raise ValueError(f"CLAMD_SOCKET: '{address}' is neither a socket path nor host:port")
    stream_max_mb = int(config.get("CLAMD_STREAM_MAX_MB", CLAMD_DEFAULT_STREAM_MAX_MB))
    if stream_max_mb < 2:
        raise ValueError("CLAMD_STREAM_MAX_MB must be 2 or more (clamd's StreamMaxLength)")
    return ClamdScanner(
        address=address,
        timeout=float(config.get("CLAMD_TIMEOUT", DEFAULT_TIMEOUT)),
        stream_max_bytes=stream_max_mb * MB,
    )


def current_scanner() -> ClamdScanner | None:
    """The running app's scanner; none outside an app (the engine used on its own)."""
    return scanner_from(current_app.config) if has_app_context() else None


@dataclass
class _Budget:
    """The time a request's scans have together, and whether clamd has failed it already."""

    deadline: float
    failed: bool = False


def _request_budget(scanner: ClamdScanner) -> _Budget:
    """One deadline for all the files of a request: five files each given the whole
    timeout would outlast gunicorn's worker time-out (a 500, the text lost with it)."""
    if not has_request_context():
        return _Budget(time.monotonic() + scanner.timeout)
    if "scan_budget" not in g:
        g.scan_budget = _Budget(time.monotonic() + scanner.timeout)
    return g.scan_budget


def check(scanner: ClamdScanner, data: bytes) -> str | None:
    """INFECTED or UNAVAILABLE as the message for the file's field, or None when clean.
    Once clamd has failed a request, its other files are refused without asking again."""
    budget = _request_budget(scanner)
    if budget.failed:
        return UNAVAILABLE
    try:
        signature = scanner.scan(data, budget.deadline)
    except ScannerUnavailable as exc:
        budget.failed = True
        log.error("upload refused unscanned: %s", exc)
        return UNAVAILABLE
    if signature is not None:
        # The signature helps whoever looks into it; never the file's name, which is the
        # citizen's own and may hold personal data.
        log.warning("upload refused: clamd found %s", signature)
        return INFECTED
    return None
