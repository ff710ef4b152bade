"""Bring the database in line with tenants/ and services/ — all of it, or nothing.

Everything is read and validated first; only when no file has an error is anything
written, in one transaction. Running it twice changes nothing the second time.
Published definition versions are immutable: changing a definition means raising its
version number, so cases submitted on the old version keep showing as they were. A new
version is published here; members move to it when the hub moves them.

Only members with a file are written: a member the hub onboarded in the app has none, and
the sync never touches it.
"""

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy import orm

from samverkan.admin.operations import DECISIONS, profile_change_detail
from samverkan.audit.operations import record
from samverkan.catalogue.definition_schema import flatten_errors
from samverkan.catalogue.loader import load_definitions
from samverkan.catalogue.models import Category, ServiceDefinition, TenantService
from samverkan.catalogue.offers import offered_for, offered_to
from samverkan.tenancy.loader import load_tenants, settings_schema
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import allow_all_tenants


class SyncError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        return [f"created {item}" for item in self.created] + [
            f"updated {item}" for item in self.updated
        ]


def validate_files(tenants_dir: Path, services_dir: Path):
    """Load and validate everything; raise SyncError listing every problem found."""
    categories, definitions, errors = load_definitions(services_dir)
    tenants, tenant_errors = load_tenants(tenants_dir, definitions)
    errors += tenant_errors
    if errors:
        raise SyncError(errors)
    return categories, definitions, tenants


def sync(session: orm.Session, tenants_dir: Path, services_dir: Path) -> SyncReport:
    """Validate, then write. The caller commits (or rolls back on an exception)."""
    categories, definitions, tenants = validate_files(tenants_dir, services_dir)
    allow_all_tenants(session)
    report = SyncReport()
    for key, category in categories.items():
        _upsert(
            session,
            report,
            Category,
            {"key": key},
            {
                "title_sv": category["title"]["sv"],
                "title_en": category["title"]["en"],
                "position": category["order"],
            },
            f"category {key}",
        )
    published = _publish_definitions(session, report, definitions)
    newest = {slug: definition.content for slug, definition in published.items()}
    problems = switch_problems(tenants_dir.name, tenants, versions_in(session, newest))
    if problems:
        raise SyncError(problems)  # the caller rolls back what was published above
    for slug, loaded in tenants.items():
        existing = session.scalar(sa.select(Tenant).filter_by(slug=slug))
        if existing is not None and existing.status != "active":
            # Offboarded: its data stays as it was when it left, until retention.
            report.unchanged += 1
            continue
        values = _tenant_values(loaded.content)
        if existing is not None and existing.profile_edited_at is not None:
            # The member's administrators have taken over their profile in the app.
            values = {k: v for k, v in values.items() if k not in PROFILE_FIELDS}
        before = {name: getattr(existing, name) for name in DECISIONS} if existing else None
        tenant = _upsert(session, report, Tenant, {"slug": slug}, values, f"tenant {slug}")
        session.flush()
        decided = [n for n in DECISIONS if before is not None and getattr(tenant, n) != before[n]]
        if decided:
            # A decision changed in the member's file counts as much as one made on its
            # profile page: in the member's own log, by the sync.
            after = {name: getattr(tenant, name) for name in decided}
            detail = profile_change_detail(decided, before, after)
            record(
                session,
                "profile.changed",
                "tenant",
                slug,
                detail,
                actor="sync",
                tenant_id=tenant.id,
            )
        for service_slug, switch in loaded.content["services"].items():
            current = session.get(TenantService, (tenant.id, service_slug))
            values = {"enabled": switch["enabled"], "settings": switch["settings"]}
            if current is not None and current.edited_at is not None:
                values = {}  # their switch, their settings
            if current is None:
                # A new switch starts on the latest version; moving a member to a newer
                # one is the hub's decision (/hub/e-tjanster), so a sync never does it.
                values["definition_id"] = published[service_slug].id
            _upsert(
                session,
                report,
                TenantService,
                {"tenant_id": tenant.id, "service_slug": service_slug},
                values,
                f"{slug}: service {service_slug}",
            )
        listed = set(loaded.content["services"])
        for switch in session.scalars(
            sa.select(TenantService).where(
                TenantService.tenant_id == tenant.id, TenantService.enabled.is_(True)
            )
        ):
            if switch.service_slug not in listed and switch.edited_at is None:
                # Taken out of the file (and not switched on in the app since): off.
                switch.enabled = False
                report.updated.append(f"{slug}: service {switch.service_slug} (switched off)")
    session.flush()
    return report


@dataclass
class Versions:
    """For checking settings: each switch's version (member slug, e-service: its content)
    and every published version's content of each e-service."""

    pinned: dict[tuple[str, str], dict]
    every: dict[str, list[dict]]
    newest: dict[str, dict]
    # Switches the sync does not write from the file: taken over by the member's
    # administrators in the app, or of a member that has left.
    not_the_files: frozenset[tuple[str, str]] = frozenset()


def versions_in(session: orm.Session, newest: dict[str, dict]) -> Versions:
    """The versions the database's switches are on, with `newest` (from services/)."""
    pinned, not_the_files = {}, set()
    for slug, service, content, edited_at, member_status in session.execute(
        sa.select(
            Tenant.slug,
            TenantService.service_slug,
            ServiceDefinition.content,
            TenantService.edited_at,
            Tenant.status,
        )
        .join(TenantService, TenantService.tenant_id == Tenant.id)
        .join(ServiceDefinition, ServiceDefinition.id == TenantService.definition_id)
    ):
        pinned[(slug, service)] = content
        if edited_at is not None or member_status != "active":
            not_the_files.add((slug, service))
    every: dict[str, list[dict]] = {}
    published = session.execute(sa.select(ServiceDefinition.slug, ServiceDefinition.content))
    for slug, content in [*published, *newest.items()]:
        every.setdefault(slug, []).append(content)
    return Versions(pinned, every, newest, frozenset(not_the_files))


def switch_problems(label: str, tenants: dict, versions: Versions) -> list[str]:
    """Each member file's switches against the version that member is on (a new switch:
    the newest): one switched on must be offered to the member's kind (catalogue/offers.py)
    and have what its settings require, and no setting may be one that no version of the
    e-service declares (a typo, or a name from nowhere). A setting only another version
    declares is kept for it: a member moves to a version that renamed or added one
    once its file has both (the hub moves it, /hub/e-tjanster)."""
    errors = []
    for slug, loaded in tenants.items():
        for service, switch in loaded.content["services"].items():
            if (slug, service) in versions.not_the_files:
                continue  # the sync leaves it as it is
            where = f"{label}/{slug}.toml: services.{service}.settings"
            content = versions.pinned.get((slug, service), versions.newest[service])
            known = {
                name
                for version in versions.every.get(service, ())
                for name in version.get("settings", {})
            }
            errors.extend(
                f"{where}.{name}: no version of {service} declares this setting"
                for name in switch["settings"]
                if name not in known
            )
            if not switch["enabled"]:
                continue
            kind = loaded.content["kind"]
            if not offered_for(content, kind):
                errors.append(
                    f"{label}/{slug}.toml: services.{service}.enabled: {service} is offered to "
                    f"{' and '.join(offered_to(content))} only (offered_to in its definition), "
                    f"and {slug} is a {kind}"
                )
                continue
            declared = content.get("settings", {})
            try:
                settings_schema(content).load(
                    {k: v for k, v in switch["settings"].items() if k in declared}
                )
            except ValidationError as exc:
                on = f"(version {content['version']}, which {slug} is on)"
                errors.extend(f"{where}.{w}: {m} {on}" for w, m in flatten_errors(exc.messages))
    return errors


def _publish_definitions(session, report, definitions) -> dict[str, ServiceDefinition]:
    published = {}
    for slug, loaded in definitions.items():
        existing = session.scalar(
            sa.select(ServiceDefinition).filter_by(slug=slug, version=loaded.version)
        )
        if existing is None:
            existing = ServiceDefinition(
                slug=slug,
                version=loaded.version,
                category_key=loaded.content["category"],
                content=loaded.content,
                checksum=loaded.checksum,
            )
            session.add(existing)
            report.created.append(f"definition {slug} v{loaded.version}")
        elif existing.checksum != loaded.checksum:
            raise SyncError(
                [
                    f"services/{slug}/definition.toml: version: version {loaded.version} is "
                    "already published with different content; raise the version number "
                    "to publish a change"
                ]
            )
        else:
            report.unchanged += 1
        published[slug] = existing
    session.flush()
    return published


# What a member's administrators edit in the app; the tenant file only gives the start.
PROFILE_FIELDS = {
    "name",
    "short_name",
    "primary_colour",
    "accent_colour",
    "website",
    "email",
    "phone",
    "visiting_address",
    "retention_months",
    "default_language",
    "draft_days",
}


def _tenant_values(content: dict) -> dict:
    population = content.get("population") or {}
    contact = content["contact"]
    return {
        "name": content["name"],
        "short_name": content["short_name"],
        "kind": content["kind"],
        "is_hub": content["hub"],
        "scb_code": content["scb_code"],
        "orgnr": content.get("orgnr"),
        "reference_prefix": content["reference_prefix"],
        "member_since": content["member_since"],
        "default_language": content["default_language"],
        "population_count": population.get("count"),
        "population_year": population.get("year"),
        "population_source": population.get("source"),
        "primary_colour": content["branding"]["primary_colour"].lower(),
        "accent_colour": content["branding"]["accent_colour"].lower(),
        "website": contact.get("website"),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "visiting_address": contact.get("visiting_address"),
        "retention_months": content.get("retention_months"),
        "draft_days": content["draft_days"],
    }


def _upsert(session, report, model, key: dict, values: dict, label: str):
    row = session.scalar(sa.select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        session.add(row)
        report.created.append(label)
        return row
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        report.updated.append(f"{label} ({', '.join(changed)})")
    else:
        report.unchanged += 1
    return row
