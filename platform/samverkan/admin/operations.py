"""What a member's administrators change about their own member: the profile, the logo and
the e-services. Each change writes its audit entry; they flush but never commit."""

import io
import os
import secrets
from pathlib import Path

import filetype
from flask_babel import gettext as _
from PIL import Image
from sqlalchemy import orm

from samverkan.admin import service_settings
from samverkan.audit.operations import record
from samverkan.catalogue import scanning
from samverkan.catalogue.models import TenantService
from samverkan.catalogue.offers import offered_for
from samverkan.db import utcnow
from samverkan.tenancy.models import MUNICIPALITY, REGION, Tenant
from samverkan.translatable import N_

LOGO_MAX_BYTES = 1024 * 1024
# Raster images only: an SVG can carry script, and it would be served from our origin.
LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# Read from the header before the image is decoded: a small file can hold a vast image.
LOGO_MAX_PIXELS_PER_SIDE = 4000


class AdminError(ValueError):
    """A change that cannot be made; `field` names what to correct."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# The member's decisions on how long personal data is kept (FACTS.md: thinning is lawful
# under the member's own decision): logged with the value before and after, so the
# period in force on any day can be shown later.
DECISIONS = ("retention_months", "draft_days")
# An e-service the catalogue does not offer to the member's kind (catalogue/offers.py).
NOT_FOR_THIS_KIND = {
    MUNICIPALITY: N_("E-tjänsten är inte för kommuner, så den kan inte slås på här."),
    REGION: N_("E-tjänsten är inte för regioner, så den kan inte slås på här."),
}


def profile_change_detail(changed: list[str], before: dict, after: dict) -> dict:
    """An audit entry's detail for changed profile fields, decisions with from and to."""
    detail: dict = {"fields": changed}
    decided = {
        name: {"from": before.get(name), "to": after.get(name)}
        for name in changed
        if name in DECISIONS
    }
    if decided:
        detail["changes"] = decided
    return detail


def update_profile(session: orm.Session, tenant: Tenant, data: dict) -> list[str]:
    """Save the profile (validated by ProfileSchema); returns the names of changed fields.
    From now on the sync leaves the profile to the member's administrators."""
    changed = [name for name, value in data.items() if getattr(tenant, name) != value]
    before = {name: getattr(tenant, name) for name in changed}
    for name in changed:
        setattr(tenant, name, data[name])
    if changed or tenant.profile_edited_at is None:
        tenant.profile_edited_at = utcnow()
    if changed:
        detail = profile_change_detail(changed, before, data)
        record(session, "profile.changed", "tenant", tenant.slug, detail)
    session.flush()
    return changed


def read_logo(upload) -> tuple[bytes, str]:
    """The bytes and content type of an uploaded logo, checked by what the content is
    (never by its name or the type the browser claims)."""
    if upload is None or not upload.filename:
        raise AdminError("logo", _("Välj en bildfil med logotypen."))
    data = upload.stream.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise AdminError("logo", _("Logotypen är för stor: den får vara högst 1 MB."))
    guess = filetype.guess(data[:8192]) if data else None
    if guess is None or guess.mime not in LOGO_TYPES:
        raise AdminError("logo", _("Logotypen ska vara en PNG-, JPEG- eller WebP-bild."))
    _check_decodes(data)
    scanner = scanning.current_scanner()  # the same scan as a citizen's files, when on
    refusal = scanning.check(scanner, data) if scanner is not None else None
    if refusal is not None:
        raise AdminError("logo", refusal)
    return data, guess.mime


def _check_decodes(data: bytes) -> None:
    """The logo is shown in every visitor's page header: a file cut short or damaged, which
    its first bytes alone do not tell, would show there as a broken image."""
    damaged = _(
        "Logotypen går inte att visa: bildfilen är skadad eller ofullständig. Spara bilden "
        "på nytt i ett bildprogram och ladda upp den igen."
    )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) <= LOGO_MAX_PIXELS_PER_SIDE:
                image.load()  # decodes every pixel: a truncated file fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AdminError("logo", damaged) from exc
    if max(width, height) > LOGO_MAX_PIXELS_PER_SIDE:
        raise AdminError(
            "logo",
            _(
                "Logotypen är %(width)s × %(height)s pixlar: den får vara högst %(most)s "
                "pixlar åt varje håll.",
                width=width,
                height=height,
                most=LOGO_MAX_PIXELS_PER_SIDE,
            ),
        )


def logo_path(upload_root: Path, tenant: Tenant) -> Path | None:
    if not tenant.logo_storage_name:
        return None
    return upload_root / str(tenant.id) / tenant.logo_storage_name


def replace_logo(
    session: orm.Session, tenant: Tenant, upload_root: Path, data: bytes, content_type: str
) -> Path | None:
    """Store the new logo under the member's folder and point the profile at it. Returns
    the old file, for the caller to delete once the change is committed."""
    folder = upload_root / str(tenant.id)
    folder.mkdir(parents=True, exist_ok=True)
    storage_name = f"logo-{secrets.token_hex(16)}.{LOGO_TYPES[content_type]}"
    fd = os.open(folder / storage_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    old = logo_path(upload_root, tenant)
    tenant.logo_storage_name = storage_name
    tenant.logo_content_type = content_type
    record(session, "profile.changed", "tenant", tenant.slug, {"logo": "uploaded"})
    session.flush()
    return old


def remove_logo(session: orm.Session, tenant: Tenant, upload_root: Path) -> Path | None:
    """Take the logo off the profile; returns the file to delete after the commit."""
    old = logo_path(upload_root, tenant)
    if old is None:
        return None
    tenant.logo_storage_name = None
    tenant.logo_content_type = None
    record(session, "profile.changed", "tenant", tenant.slug, {"logo": "removed"})
    session.flush()
    return old


def switch_service(
    session: orm.Session, tenant: Tenant, service: TenantService, enabled: bool
) -> None:
    """Switch an e-service of `tenant` on or off. It is not switched on when it is not for
    the member's kind (catalogue/offers.py), or while a required setting is missing:
    citizens would meet a form without its choices."""
    if enabled and not service.enabled:
        if not offered_for(service.definition.content, tenant.kind):
            raise AdminError("enabled", _(NOT_FOR_THIS_KIND[tenant.kind]))
        missing = service_settings.missing_required(service.definition.content, service.settings)
        if missing:
            raise AdminError(
                "enabled",
                _(
                    "Fyll i inställningarna först (%(missing)s), sedan kan e-tjänsten slås på.",
                    missing=", ".join(missing).lower(),
                ),
            )
    if service.enabled == enabled:
        return
    service.enabled = enabled
    service.edited_at = utcnow()
    record(session, "service.changed", "service", service.service_slug, {"enabled": enabled})
    session.flush()


def set_service_retention(
    session: orm.Session, tenant: Tenant, service_slug: str, months: int | None
) -> bool:
    """Give one e-service its own retention period (None: the member's default applies).
    Returns whether anything changed."""
    periods = dict(tenant.retention_by_service or {})
    before = periods.get(service_slug)
    if before == months:
        return False
    if months is None:
        periods.pop(service_slug, None)
    else:
        periods[service_slug] = months
    tenant.retention_by_service = periods  # a new dict, so the JSON column is written
    record(
        session,
        "service.changed",
        "service",
        service_slug,
        {
            "retention_months": months,
            "changes": {"retention_months": {"from": before, "to": months}},
        },
    )
    session.flush()
    return True


def save_service_settings(session: orm.Session, service: TenantService, settings: dict) -> None:
    """Replace the member's settings for an e-service (validated by service_settings.load)."""
    changed = sorted(
        name
        for name in set(settings) | set(service.settings or {})
        if settings.get(name) != (service.settings or {}).get(name)
    )
    service.settings = settings
    service.edited_at = utcnow()
    if changed:
        record(session, "service.changed", "service", service.service_slug, {"settings": changed})
    session.flush()
