"""Settings: config/samverkan.toml, then the environment, then what a caller passes."""

import os
import secrets
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import limits
import sqlalchemy as sa

from samverkan.catalogue.scanning import scanner_from

# The repository (editable install): platform/samverkan/settings.py -> repo root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _instance_path() -> Path:
    return Path(os.environ.get("SAMVERKAN_INSTANCE", PROJECT_ROOT / "instance")).resolve()


def development_secret_key(instance: Path, name: str = "secret_key") -> str:
    """A key generated once into the instance folder (never committed), kept across runs."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _mail_settings(mail: dict, instance: Path) -> dict:
    """The outbox's transport: config/samverkan.toml [mail], each overridden by the environment.
    The SMTP password is read from the environment only, never from a committed file."""
    env = os.environ.get
    return {
        "MAIL_FROM": env("MAIL_FROM") or mail.get("from", "no-reply@samverkan.invalid"),
        # An empty variable is an unset one, as for the others: never a switch to files.
        "SMTP_HOST": env("SMTP_HOST") or mail.get("smtp_host", ""),
        # Unset: the port of SMTP_SECURITY (outbox/transports.py DEFAULT_PORTS).
        "SMTP_PORT": env("SMTP_PORT") or mail.get("smtp_port"),
        "SMTP_SECURITY": env("SMTP_SECURITY") or mail.get("smtp_security", "starttls"),
        "SMTP_USER": env("SMTP_USER", ""),
        "SMTP_PASSWORD": env("SMTP_PASSWORD", ""),
        "MAIL_DIR": str(instance / "mail"),  # the development transport writes here
        "OUTBOX_POLL_SECONDS": mail.get("poll_seconds", 5),
    }


def _costs_settings(costs: dict) -> dict:
    """The hub's invoicing of cost shares (config/samverkan.toml [costs]): the accounts and
    the voucher series of its SIE file, and VAT per invoice line (0 by default)."""
    vat = str(costs.get("vat_percent", "0")).replace(",", ".").strip()
    try:
        vat_percent = Decimal(vat)
    except InvalidOperation as exc:
        raise ValueError(f"[costs] vat_percent: '{vat}' is not a percentage") from exc
    if not vat_percent.is_finite() or not 0 <= vat_percent <= 100:
        raise ValueError(f"[costs] vat_percent: '{vat}' is not between 0 and 100")
    return {
        "COSTS_VOUCHER_SERIES": str(costs.get("voucher_series", "A")),
        "COSTS_RECEIVABLE_ACCOUNT": str(costs.get("receivable_account", "1510")),
        "COSTS_RECEIVABLE_ACCOUNT_NAME": costs.get("receivable_account_name", "Kundfordringar"),
        "COSTS_REVENUE_ACCOUNT": str(costs.get("revenue_account", "3044")),
        "COSTS_REVENUE_ACCOUNT_NAME": costs.get(
            "revenue_account_name", "Försäljning av tjänster inom Sverige, momsfri"
        ),
        "COSTS_VAT_PERCENT": vat_percent,
        "COSTS_VAT_ACCOUNT": str(costs.get("vat_account", "2611")),
        "COSTS_VAT_ACCOUNT_NAME": costs.get(
            "vat_account_name", "Utgående moms på försäljning inom Sverige, 25 %"
        ),
    }


DEVELOPMENT_PROVIDER = "http://127.0.0.1:9400"  # `make run` starts one there (Makefile)


def _citizen_login_settings(login: dict, development: bool) -> dict:
    """Citizens' e-ID sign-in (identity/): config/samverkan.toml [citizen_login], the
    environment overriding; secrets from the environment only."""
    env = os.environ.get
    issuer = env("CITIZEN_OIDC_ISSUER", login.get("issuer", "")).rstrip("/")
    client_id = env("CITIZEN_OIDC_CLIENT_ID", login.get("client_id", ""))
    secret = env("CITIZEN_OIDC_CLIENT_SECRET", "")
    if development and not issuer:  # the development provider takes any client and secret
        issuer, client_id = DEVELOPMENT_PROVIDER, client_id or "samverkan-development"
        secret = secret or "development-only"
    return {
        "CITIZEN_OIDC_ISSUER": issuer,
        "CITIZEN_OIDC_CLIENT_ID": client_id,
        "CITIZEN_OIDC_CLIENT_SECRET": secret,
        "CITIZEN_OIDC_SCOPE": login.get("scope", "openid profile"),
        "CITIZEN_OIDC_PERSONNUMMER_CLAIM": login.get(
            "personnummer_claim", "https://id.oidc.se/claim/personalIdentityNumber"
        ),
        "CITIZEN_OIDC_FOREIGN_ID_CLAIM": login.get("foreign_id_claim", "sub"),
        "CITIZEN_IDLE_MINUTES": login.get("idle_minutes", 30),
        "CITIZEN_SESSION_HOURS": login.get("session_hours", 8),
    }


RATE_LIMIT_SETTINGS = (
    "SUBMISSIONS_PER_ADDRESS",
    "SUBMISSIONS_PER_MEMBER",
    "EXTRACTS_PER_ADDRESS",
    "DRAFT_MAILS_PER_ADDRESS",
    "DRAFT_MAILS_PER_RECIPIENT",
    "RECEIPTS_PER_RECIPIENT",
)


def rate_limits(name: str, text: str) -> tuple[limits.RateLimitItem, ...]:
    """Every limit in a setting ("120 per minute; 2000 per day"), shortest window first;
    a setting that is no limit is named."""
    try:
        return tuple(sorted(limits.parse_many(str(text))))
    except ValueError:
        raise RuntimeError(
            f"{name} is not a rate limit (e.g. '120 per minute'): {text!r}"
        ) from None


# A Redis that answers on its network answers within milliseconds; one that does not must
# not hold a request for long (redis-py waits forever by default).
RATE_LIMIT_STORAGE_TIMEOUT = 0.5


def _rate_storage_options(uri: str) -> dict:
    """A failing storage's errors as limits' StorageError (the fallback catches those)."""
    options: dict = {"wrap_exceptions": True}
    if uri.startswith("redis"):  # redis://, rediss://, redis+sentinel://, redis+cluster://
        options.update(
            socket_timeout=RATE_LIMIT_STORAGE_TIMEOUT,
            socket_connect_timeout=RATE_LIMIT_STORAGE_TIMEOUT,
        )
    return options


def _check_rate_limits(settings: dict) -> None:
    """Flask-Limiter skips a limit it cannot read, with a line in the log: a typo in one
    of these would let that flood through unnoticed."""
    for name in RATE_LIMIT_SETTINGS:
        rate_limits(name, settings[name])


ENVIRONMENTS = ("development", "production")


def environment() -> str:
    """SAMVERKAN_ENV: a typo ("Production", "prod") must not quietly skip every check
    production makes (a real key, a real e-ID provider, mail over SMTP)."""
    name = os.environ.get("SAMVERKAN_ENV") or "development"
    if name not in ENVIRONMENTS:
        raise RuntimeError(f"SAMVERKAN_ENV is 'development' or 'production', not {name!r}")
    return name


def env_number(name: str, default, *, kind=float, above: float | None = None):
    """A number from the environment; one that is none, or too small, stops the start
    with the variable's name (not a bare ValueError in every worker)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise RuntimeError(f"{name} must be {what}, not {raw!r}") from None
    if value < 0 or (above is not None and value <= above):
        least = "more than 0" if above == 0 else "0 or more"
        raise RuntimeError(f"{name} must be {least}, not {raw!r}")
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise RuntimeError(f"{name} is 1 or 0 (true or false, yes or no), not {raw!r}")


def _database_url(name: str) -> str | None:
    """A database address the app can use: PostgreSQL (production) or SQLite (the
    embedded default). Another (mysql://…) ended in flask's 'No such command'."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        backend = sa.make_url(text).get_backend_name()
    except sa.exc.ArgumentError:
        backend = None
    if backend not in ("postgresql", "sqlite"):
        raise RuntimeError(
            f"{name} must be a PostgreSQL or SQLite address (postgresql://user@host/db or "
            f"sqlite:///path), not {sa.make_url(text).render_as_string() if backend else text!r}"
        )
    return text


def _app_database_role(app_url: str | None) -> str:
    """The role the application runs as, which the migrations grant to: the user
    APP_DATABASE_URL connects as, when it is set. Naming another (or leaving the default
    beside a URL of another user) granted every table to a role nobody connected as, and
    every page answered 500."""
    role = os.environ.get("APP_DATABASE_ROLE")
    user = sa.make_url(app_url).username if app_url else None
    if user and role and role != user:
        raise RuntimeError(
            f"APP_DATABASE_ROLE ({role!r}) must be the user APP_DATABASE_URL connects as "
            f"({user!r}); leave it unset to take that user"
        )
    return user or role or "samverkan_app"


def _public_url(text: str | None) -> str | None:
    """PUBLIC_URL as a whole address: a bare host name gave no host to trust, and every
    page then answered 500 while the probes said all was well."""
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeError(
            f"PUBLIC_URL must be a whole address, e.g. https://e-tjanster.example.se, not {text!r}"
        )
    return text


def load_settings(overrides: dict | None = None) -> dict:
    overrides = overrides or {}
    instance = Path(overrides.get("INSTANCE_PATH") or _instance_path())
    config_file = Path(
        os.environ.get("SAMVERKAN_CONFIG", PROJECT_ROOT / "config" / "samverkan.toml")
    )
    with config_file.open("rb") as handle:
        file_settings = tomllib.load(handle)
    settings = {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": _database_url("DATABASE_URL")
        or f"sqlite:///{instance / 'samverkan.db'}",
        "APP_DATABASE_URL": _database_url("APP_DATABASE_URL"),
        "APP_DATABASE_ROLE": _app_database_role(os.environ.get("APP_DATABASE_URL")),
        "UPLOAD_ROOT": str(instance / "uploads"),
        "TENANTS_DIR": str(PROJECT_ROOT / "tenants"),
        "SERVICES_DIR": str(PROJECT_ROOT / "services"),
        "MAX_CONTENT_LENGTH": file_settings["uploads"]["max_request_mb"] * 1024 * 1024,
        # Uploads scanned by ClamAV's clamd (catalogue/scanning.py): its socket path or
        # host:port; unset, no scanning. STREAM_MAX_MB is clamd's StreamMaxLength.
        "CLAMD_SOCKET": os.environ.get("CLAMD_SOCKET", ""),
        "CLAMD_TIMEOUT": env_number("CLAMD_TIMEOUT", 10.0, above=0),
        "CLAMD_STREAM_MAX_MB": env_number("CLAMD_STREAM_MAX_MB", 25, kind=int, above=0),
        "TENANT_HOSTS": dict(file_settings.get("hosts", {})),
        "STAFF_IDLE_MINUTES": file_settings["staff"]["idle_minutes"],
        "STAFF_SESSION_HOURS": file_settings["staff"]["session_hours"],
        "PLATFORM_NAME": file_settings["platform"]["name"],
        "REGION_NAME": file_settings["platform"]["region"],
        # Each worker's own memory (rate_storage.py) unless e.g. redis://127.0.0.1:6379,
        # which every worker and host shares. A shared storage that fails or hangs (given up
        # on after RATE_LIMIT_STORAGE_TIMEOUT seconds) is counted around in each worker's
        # memory until it answers again: limits stay, submissions go on (extensions.py).
        # (RATELIMIT_STORAGE_OPTIONS follow from the address, below.)
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "worker-memory://"),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Submissions: per client address, and per member for everyone together.
        "SUBMISSIONS_PER_ADDRESS": os.environ.get("SUBMISSIONS_PER_ADDRESS", "120 per minute"),
        "SUBMISSIONS_PER_MEMBER": os.environ.get("SUBMISSIONS_PER_MEMBER", "3000 per minute"),
        # A citizen's register extracts, per address (each one is audited).
        "EXTRACTS_PER_ADDRESS": os.environ.get("EXTRACTS_PER_ADDRESS", "30 per hour"),
        # Resume links sent by e-mail ("save and continue later").
        "DRAFT_MAILS_PER_ADDRESS": os.environ.get("DRAFT_MAILS_PER_ADDRESS", "20 per hour"),
        "DRAFT_MAILS_PER_RECIPIENT": os.environ.get("DRAFT_MAILS_PER_RECIPIENT", "5 per hour"),
        "RECEIPTS_PER_RECIPIENT": os.environ.get("RECEIPTS_PER_RECIPIENT", "10 per hour"),
        # How long a worker may reuse a rendered public home page or first form step
        # (citizen/page_cache.py); 0 renders every time. A change made through the app
        # (or the CLI) is seen at once by every process sharing the instance folder
        # (memo.py); these bound only changes made around it.
        "PUBLIC_PAGE_CACHE_SECONDS": env_number("PUBLIC_PAGE_CACHE_SECONDS", 60.0),
        # How long a worker may reuse what it read about a member (tenancy/snapshot.py).
        "TENANT_CACHE_SECONDS": env_number("TENANT_CACHE_SECONDS", 60.0),
        # How long a worker may reuse who is signed in at a member and their role
        # (accounts/session.py): changes through the app are seen at once, as above.
        "SIGNED_IN_CACHE_SECONDS": env_number("SIGNED_IN_CACHE_SECONDS", 30.0),
        # How long a worker keeps what its key fully names (a form built from a definition
        # and settings, a first step's page): any change makes a new key, so this bounds
        # memory, not how long a change takes to show; 0 keeps nothing.
        "KEYED_CACHE_SECONDS": env_number("KEYED_CACHE_SECONDS", 600.0),
        # Set SESSION_COOKIE_SECURE=1 wherever the site is served over https.
        "SESSION_COOKIE_SECURE": env_flag("SESSION_COOKIE_SECURE"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # a long form must not expire while a citizen types
        **_mail_settings(file_settings.get("mail", {}), instance),
        **_costs_settings(file_settings.get("costs", {})),
        **_citizen_login_settings(
            file_settings.get("citizen_login", {}),
            development=overrides.get("ENV_NAME", environment()) != "production",
        ),
    }
    # The public address e-mailed links use (https://e-tjanster.example.se), and the host
    # names requests may carry: a request for any other Host is refused with 400.
    public_url = _public_url(os.environ.get("PUBLIC_URL"))
    settings["PUBLIC_URL"] = public_url
    trusted = os.environ.get("TRUSTED_HOSTS")
    settings["TRUSTED_HOSTS"] = (
        [host.strip() for host in trusted.split(",") if host.strip()]
        if trusted
        # Not "[::1]": werkzeug cannot match a bracketed address (it never did here).
        else ["localhost", "127.0.0.1", *settings["TENANT_HOSTS"]]
        + ([urlsplit(public_url).hostname] if public_url else [])
    )
    # Behind a reverse proxy (PROXY_HOPS=1): the client's address and scheme come from its
    # X-Forwarded-* headers, for the audit log and the per-address limits.
    settings["PROXY_HOPS"] = env_number("PROXY_HOPS", 0, kind=int)
    settings.update(overrides)
    settings.setdefault(
        "RATELIMIT_STORAGE_OPTIONS", _rate_storage_options(settings["RATELIMIT_STORAGE_URI"])
    )
    scanner_from(settings)  # a malformed CLAMD_SOCKET stops the start, not an upload
    _check_rate_limits(settings)  # and so does a limit that is no limit
    settings.setdefault("ENV_NAME", environment())
    if "SECRET_KEY" not in settings:
        if settings["ENV_NAME"] == "production" and not os.environ.get("SECRET_KEY"):
            # A key generated into the instance folder is a development convenience.
            raise RuntimeError("SAMVERKAN_ENV=production needs SECRET_KEY set in the environment")
        settings["SECRET_KEY"] = os.environ.get("SECRET_KEY") or development_secret_key(
            Path(settings["INSTANCE_PATH"])
        )
    if settings["ENV_NAME"] == "production" and len(str(settings["SECRET_KEY"])) < 32:
        raise RuntimeError("SECRET_KEY is too short for production: use 32 random bytes or more")
    if "PERSON_KEY_SECRET" not in settings:
        # The key of the digest that links a signed-in person to their cases: losing it
        # empties every Mina ärenden, so production sets it and keeps it.
        secret = os.environ.get("PERSON_KEY_SECRET")
        signing_in = settings["ENV_NAME"] == "production" and settings["CITIZEN_OIDC_ISSUER"]
        if signing_in and (not secret or len(secret) < 32):
            raise RuntimeError(
                "citizen sign-in in production needs PERSON_KEY_SECRET (32 characters or "
                "more) in the environment"
            )
        settings["PERSON_KEY_SECRET"] = secret or development_secret_key(
            Path(settings["INSTANCE_PATH"]), "person_key"
        )
    return settings
