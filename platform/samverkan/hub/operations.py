"""What the hub changes across members: a new member, a member leaving, members moved to
another version of an e-service. Each takes the session `across_members` opened (which
wrote the hub's audit entry); they flush but never commit."""

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from samverkan.admin.service_settings import missing_required
from samverkan.audit.models import AuditEntry
from samverkan.audit.operations import READ_ACTIONS, record
from samverkan.cases.models import Case, CaseEvent
from samverkan.catalogue.fields import localized
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.catalogue.offers import KIND_WORDS, offered_for, only_for_text
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import swedish_sort_key

ACTIVE, CLOSED = "active", "closed"
READ_ONLY_MESSAGE = "Medlemmen är avslutad; ärendena kan bara läsas."


class HubError(ValueError):
    """What the hub administrator must correct, by form field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


def title_of(definition: ServiceDefinition) -> str:
    return localized(definition.content["title"], "sv")


def latest_definitions(session: orm.Session) -> dict[str, ServiceDefinition]:
    """The newest published version of every e-service in the catalogue, by title."""
    latest: dict[str, ServiceDefinition] = {}
    for definition in session.scalars(sa.select(ServiceDefinition)):
        if definition.slug not in latest or definition.version > latest[definition.slug].version:
            latest[definition.slug] = definition
    return dict(sorted(latest.items(), key=lambda item: title_of(item[1])))


@dataclass
class ServiceChoice:
    """An e-service as the onboarding form offers it."""

    definition: ServiceDefinition
    missing: list[str]  # labels of required settings a new member has not set yet

    @property
    def can_switch_on(self) -> bool:
        return not self.missing

    @property
    def offered_to(self) -> str:
        """Whom it is for, in words: 'kommuner', 'regioner' or both."""
        return only_for_text(self.definition.content)


def service_choices(session: orm.Session) -> list[ServiceChoice]:
    return [
        ServiceChoice(d, missing_required(d.content, {}))
        for d in latest_definitions(session).values()
    ]


# Unique per member: (column, form field, message).
_UNIQUE = (
    ("slug", "slug", "Adressnamnet används redan av {name}."),
    ("scb_code", "scb_code", "SCB-koden används redan av {name}."),
    ("reference_prefix", "reference_prefix", "Prefixet används redan av {name}."),
    ("orgnr", "orgnr", "Organisationsnumret används redan av {name}."),
)


def _taken(session: orm.Session, data: dict) -> dict[str, list[str]]:
    errors = {}
    for column, name, message in _UNIQUE:
        if data.get(column) is None:
            continue
        other = session.scalar(sa.select(Tenant).where(getattr(Tenant, column) == data[column]))
        if other is not None:
            errors[name] = [message.format(name=other.name)]
    return errors


def onboard_member(
    session: orm.Session, data: dict, switched_on: list[str], *, today: date
) -> Tenant:
    """A new member with every e-service of the catalogue offered to its kind at its latest
    version: those in `switched_on` on (each must need no settings it cannot have yet), the
    rest off for the member's administrators to configure. Raises HubError, with nothing
    written."""
    errors = _taken(session, data)
    choices = {c.definition.slug: c for c in service_choices(session)}
    for slug in switched_on:
        choice = choices.get(slug)
        if choice is None:
            errors.setdefault("services", []).append(f"Det finns ingen e-tjänst ”{slug}”.")
        elif not offered_for(choice.definition.content, data["kind"]):
            errors.setdefault("services", []).append(
                f"{title_of(choice.definition)} är en e-tjänst för {choice.offered_to}: "
                f"en {KIND_WORDS[data['kind']]} kan inte slå på den."
            )
        elif not choice.can_switch_on:
            errors.setdefault("services", []).append(
                f"{title_of(choice.definition)} kan slås på först när "
                f"{', '.join(choice.missing).lower()} är ifyllt."
            )
    if errors:
        raise HubError(errors)
    population = {
        "population_count": data.get("population_count"),
        "population_year": data.get("population_year"),
        "population_source": data.get("population_source"),
    }
    tenant = Tenant(
        slug=data["slug"],
        name=data["name"],
        short_name=data["short_name"],
        kind=data["kind"],
        is_hub=False,
        scb_code=data["scb_code"],
        orgnr=data.get("orgnr"),
        reference_prefix=data["reference_prefix"],
        default_language="sv",
        primary_colour=data["primary_colour"].lower(),
        accent_colour=data["accent_colour"].lower(),
        website=data.get("website"),
        email=data.get("email"),
        phone=data.get("phone"),
        visiting_address=data.get("visiting_address"),
        member_since=data.get("member_since") or today,
        status=ACTIVE,
        **population,
    )
    try:
        with session.begin_nested():  # a member made at the same moment: a field message
            session.add(tenant)
            session.flush()
    except sa_exc.IntegrityError:
        raise HubError(_taken(session, data) or {"slug": ["Försök igen."]}) from None
    for slug, choice in choices.items():
        if not offered_for(choice.definition.content, tenant.kind):
            continue  # not for its kind: not on its list to switch on either
        session.add(
            TenantService(
                tenant_id=tenant.id,
                service_slug=slug,
                definition_id=choice.definition.id,
                enabled=slug in switched_on,
                settings={},
            )
        )
    record(
        session,
        "hub.member_onboarded",
        "member",
        tenant.slug,
        {"services": sorted(switched_on)},
        tenant_id=tenant.id,  # the new member's own log starts with how it began
    )
    session.flush()
    return tenant


# What the hub corrects or brings up to date for a member (hub/schemas.MemberFactsSchema).
FACTS = ("orgnr", "population_count", "population_year", "population_source")


def facts_changes(member: Tenant, data: dict) -> dict[str, dict]:
    """What `data` would change of the member's facts: {field: {from, to}} (the audit's)."""
    return {
        name: {"from": getattr(member, name), "to": data.get(name)}
        for name in FACTS
        if getattr(member, name) != data.get(name)
    }


def change_member_facts(
    session: orm.Session, member: Tenant, data: dict, *, from_file: bool
) -> None:
    """A member's organisation number and population (a new SCB year) as the hub records
    them. A member whose file in tenants/ holds them is changed in its file (the next sync
    would undo this), and one that has left keeps what it had. `member` is the session's."""
    if member.status == CLOSED:
        raise HubError({"orgnr": [f"{member.name} är avslutad; dess uppgifter ändras inte."]})
    if from_file:
        raise HubError(
            {
                "orgnr": [
                    f"{member.name}s uppgifter kommer från filen tenants/{member.slug}.toml: "
                    "ändra dem där och kör flask sync, annars skriver nästa synkning över dem."
                ]
            }
        )
    if data.get("orgnr") != member.orgnr and (taken := _taken(session, {"orgnr": data["orgnr"]})):
        raise HubError(taken)  # another member's, as onboarding says it
    for name in FACTS:
        setattr(member, name, data.get(name))
    session.flush()


def last_export_at(session: orm.Session, member: Tenant) -> datetime | None:
    """When the member's data was last exported (the entry in its own audit log)."""
    return session.scalar(
        sa.select(sa.func.max(AuditEntry.at)).where(
            AuditEntry.tenant_id == member.id, AuditEntry.action == "hub.member_exported"
        )
    )


def case_count(session: orm.Session, member: Tenant) -> int:
    return session.scalar(
        sa.select(sa.func.count()).select_from(Case).where(Case.tenant_id == member.id)
    )


def last_change_at(session: orm.Session, member: Tenant) -> datetime | None:
    """The latest moment anything a member's export holds changed: a case submitted,
    changed or noted on (a citizen's submission writes no log entry), its row or an
    e-service switch (the sync writes those without one), or what its own log records as
    a change (the profile, a retention period, settings, staff)."""
    moments = [
        session.scalar(sa.select(Tenant.updated_at).where(Tenant.id == member.id)),
        session.scalar(
            sa.select(sa.func.max(TenantService.updated_at)).where(
                TenantService.tenant_id == member.id
            )
        ),
        session.scalar(sa.select(sa.func.max(Case.updated_at)).where(Case.tenant_id == member.id)),
        session.scalar(
            sa.select(sa.func.max(CaseEvent.created_at)).where(CaseEvent.tenant_id == member.id)
        ),
        session.scalar(
            sa.select(sa.func.max(AuditEntry.at)).where(
                AuditEntry.tenant_id == member.id,
                # The closing being tried writes its own entry first (hub/across.py).
                AuditEntry.action.not_in(READ_ACTIONS | {"hub.member_offboarded"}),
            )
        ),
    ]
    return max((m for m in moments if m is not None), default=None)


def close_member(session: orm.Session, member: Tenant, confirmed: bool, *, today: date) -> None:
    """Offboard: the member's pages close and its cases become read-only (they stay until
    their retention rule deletes them). Only after an export newer than the last change."""
    member = session.get(Tenant, member.id, with_for_update=True)
    errors: dict[str, list[str]] = {}
    if member.is_hub:
        errors["confirm"] = ["Navet kan inte avsluta sig självt."]
    elif member.status == CLOSED:
        errors["confirm"] = [f"{member.name} är redan avslutad."]
    else:
        exported = last_export_at(session, member)
        changed = last_change_at(session, member)
        if exported is None:
            errors["export"] = ["Exportera medlemmens data först (steg 1)."]
        elif changed is not None and exported < changed:
            errors["export"] = [
                "Medlemmens ärenden, profil, inställningar eller medarbetare har ändrats "
                "sedan den senaste exporten. Exportera igen, så att arkivet har allt."
            ]
        if member.retention_months is None:
            # After it leaves its cases can only be thinned by its own period (a case still
            # open then counts as ended): without one, they would stay here for good.
            errors["retention"] = [
                f"{member.name} har ingen gallringsfrist. Medlemmens administratör anger den "
                "på profilsidan (Gallringsfrist), enligt medlemmens eget beslut, innan "
                "medlemmen kan avslutas."
            ]
        if not confirmed:
            errors["confirm"] = ["Kryssa i att du har sparat exporten och vill avsluta."]
    if errors:
        raise HubError(errors)
    member.status = CLOSED
    member.left_on = today
    session.flush()


@dataclass
class Move:
    service: str
    definition: ServiceDefinition
    members: list[Tenant]


def move_members(session: orm.Session, service: str, version: int, slugs: list[str]) -> Move:
    """Move members' switches of `service` to a published `version`. All or none: a
    member that has no such switch, is closed, or (with the service on) is of a kind the
    version is not for or lacks a setting it requires is named in the refusal."""
    definition = session.scalar(
        sa.select(ServiceDefinition).where(
            ServiceDefinition.slug == service, ServiceDefinition.version == version
        )
    )
    if definition is None:
        raise HubError({"version": [f"Version {version} finns inte för den här e-tjänsten."]})
    members = session.scalars(sa.select(Tenant).where(Tenant.slug.in_(slugs))).all()
    by_slug = {m.slug: m for m in members}
    problems = [f"Det finns ingen medlem ”{s}”." for s in slugs if s not in by_slug]
    # Locked (their rows only, not the joined definitions) so a member's administrator
    # saving settings at the same moment is checked against what is moved.
    switches = {
        s.tenant_id: s
        for s in session.scalars(
            sa.select(TenantService)
            .where(
                TenantService.service_slug == service,
                TenantService.tenant_id.in_([m.id for m in members]),
            )
            .with_for_update(of=TenantService)
        )
    }
    moved = []
    for member in sorted(members, key=lambda m: swedish_sort_key(m.name)):
        switch = switches.get(member.id)
        if switch is None:
            problems.append(f"{member.name} har inte den här e-tjänsten.")
        elif member.status == CLOSED:
            problems.append(f"{member.name} är avslutad; dess e-tjänster ändras inte.")
        elif switch.enabled and not offered_for(definition.content, member.kind):
            problems.append(
                f"{member.name} är en {KIND_WORDS[member.kind]}, och version {version} är "
                f"för {only_for_text(definition.content)}."
            )
        elif switch.enabled and (missing := missing_required(definition.content, switch.settings)):
            problems.append(
                f"{member.name} saknar {_setting_words(missing)} som version {version} kräver. "
                "Medlemmens administratör fyller i den först."
            )
        elif switch.definition_id != definition.id:
            moved.append((member, switch))
    if problems:
        raise HubError({"members": problems})
    for member, switch in moved:
        previous = switch.definition.version
        switch.definition_id = definition.id
        record(
            session,
            "hub.versions_moved",
            "service",
            service,
            {"previous_version": previous, "version": version},
            tenant_id=member.id,
        )
    session.flush()
    return Move(service, definition, [m for m, _ in moved])


def _setting_words(labels: list[str]) -> str:
    quoted = [f"inställningen ”{label}”" for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " och " + quoted[-1]
