"""How a composed e-mail leaves: over SMTP, or (in development) as a file in the instance
folder. Which one is configuration ([mail] in config/samverkan.toml and the environment)."""

import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

SECURITY_MODES = ("starttls", "ssl", "none")
# The port each mode is served on when SMTP_PORT is not set.
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SMTP_TIMEOUT = 20  # seconds per network step; on SQLite the worker holds the write lock


class MailConfigError(ValueError):
    """A mail setting that cannot work; the message names the setting."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over, or raise: the outbox then retries later."""

    def describe(self) -> str:
        """Where mail goes, for the worker's first line (no secrets)."""


class FileTransport:
    """Development: each mail becomes `<MAIL_DIR>/<message id>.eml`, readable in any mail
    program. Named by the Message-ID, so a repeat of one event overwrites its own file."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def describe(self) -> str:
        return f"files in {self.directory}"

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").split("@")[0] + ".eml"
        target = self.directory / name
        partial = target.with_suffix(".part")
        # The status link in the mail is personal: only the owner may read the file.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        os.replace(partial, target)  # a reader never sees half a mail


class SMTPTransport:
    """A mail server: STARTTLS on the submission port, implicit TLS ("ssl"), or plain
    ("none", only for a relay on the same host). One connection per message: simple, and
    municipal volumes are small."""

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = SMTP_TIMEOUT,
    ):
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.timeout = timeout
        self._tls: ssl.SSLContext | None = None

    def describe(self) -> str:
        who = f" as {self.user}" if self.user else ""
        return f"SMTP {self.host}:{self.port} ({self.security}){who}"

    def _context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and name. Made once: reading the system's
        certificate authorities costs more than sending a receipt."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def send(self, message: EmailMessage) -> None:
        if self.security == "ssl":
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with connection as smtp:
            if self.security == "starttls":
                smtp.starttls(context=self._context())
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def transport_from_config(config) -> Transport:
    """SMTP when a host is set; otherwise .eml files in MAIL_DIR (the development default)."""
    host = (config.get("SMTP_HOST") or "").strip()
    if not host:
        return FileTransport(Path(config["MAIL_DIR"]))
    security = str(config.get("SMTP_SECURITY") or "starttls").strip().lower()
    if security not in SECURITY_MODES:
        raise MailConfigError(
            f"SMTP_SECURITY is '{security}'; use one of {', '.join(SECURITY_MODES)}"
        )
    try:
        port = int(config.get("SMTP_PORT") or DEFAULT_PORTS[security])
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise MailConfigError(f"SMTP_PORT is '{config.get('SMTP_PORT')}'; give a port number")
    user = config.get("SMTP_USER") or ""
    password = config.get("SMTP_PASSWORD") or ""
    if bool(user) != bool(password):
        raise MailConfigError("set both SMTP_USER and SMTP_PASSWORD, or neither")
    if not (user.isascii() and password.isascii()):
        # smtplib sends the sign-in as ASCII and would fail on every message instead.
        raise MailConfigError("SMTP_USER and SMTP_PASSWORD can only hold ASCII characters")
    return SMTPTransport(host, port, security, user, password)
