"""Reading tenants/ from disk: each member's file validated, settings checked against
what each e-service definition allows."""

import datetime
from dataclasses import dataclass
from pathlib import Path

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from samverkan.catalogue.definition_schema import flatten_errors
from samverkan.catalogue.loader import LoadedDefinition, read_toml
from samverkan.catalogue.swedish import COUNTY_CODES, InvalidNumber, normalize_orgnr
from samverkan.colours import AA_NORMAL_TEXT, HEX_COLOUR, PANEL, contrast_ratio
from samverkan.routing import platform_paths
from samverkan.tenancy.models import MEMBER_KINDS, MUNICIPALITY, REGION

COLOUR = validate.Regexp(HEX_COLOUR.pattern, error="write the colour as #rrggbb")


class PopulationSchema(Schema):
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1900, max=2100))
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BrandingSchema(Schema):
    primary_colour = fields.String(required=True, validate=COLOUR)
    accent_colour = fields.String(required=True, validate=COLOUR)

    @validates("primary_colour")
    def readable(self, value: str, **kwargs) -> None:
        """White text sits on the colour (header); the colour is text on the light panels."""
        for background, what in (
            ("#ffffff", f"white text on {value}"),
            (PANEL, f"{value} as text on the panel colour {PANEL}"),
        ):
            ratio = contrast_ratio(value, background)
            if ratio < AA_NORMAL_TEXT:
                raise ValidationError(
                    f"{what} has contrast {ratio:.2f}:1; WCAG AA needs at least 4.5:1"
                )


class ContactSchema(Schema):
    website = fields.URL(schemes={"https"}, validate=validate.Length(max=200))
    email = fields.Email(validate=validate.Length(max=200))
    phone = fields.String(validate=validate.Length(min=5, max=40))
    visiting_address = fields.String(validate=validate.Length(min=1, max=200))


class ServiceSwitchSchema(Schema):
    enabled = fields.Boolean(load_default=True)
    settings = fields.Dict(keys=fields.String(), load_default=dict)


class TomlDate(fields.Field):
    """A TOML date (member_since = 2013-01-01) arrives as a date already."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        raise ValidationError("write a date without quotes, like 2013-01-01")


class TenantFileSchema(Schema):
    slug = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9-]{1,39}$"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=120))
    short_name = fields.String(required=True, validate=validate.Length(min=2, max=80))
    kind = fields.String(required=True, validate=validate.OneOf(MEMBER_KINDS))
    hub = fields.Boolean(load_default=False)
    scb_code = fields.String(required=True, validate=validate.Regexp(r"^\d{2}(\d{2})?$"))
    orgnr = fields.String()
    reference_prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    default_language = fields.String(load_default="sv", validate=validate.OneOf(("sv", "en")))
    population = fields.Nested(PopulationSchema)
    # When it joined: cost pools charge a member from then (costs/membership.py), so a
    # file without it would be charged for every year before it existed.
    member_since = TomlDate(
        required=True,
        error_messages={
            "required": "when the member joined decides the costs it shares: write the "
            "date it joined without quotes, like 2027-01-01"
        },
    )
    branding = fields.Nested(BrandingSchema, required=True)
    contact = fields.Nested(ContactSchema, load_default=dict)
    services = fields.Dict(
        keys=fields.String(), values=fields.Nested(ServiceSwitchSchema), load_default=dict
    )
    # Retention after a case is closed, in whole months, as the member's own
    # dokumenthanteringsplan decides; left out, nothing is thinned.
    retention_months = fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(
            min=1, max=1200, error="write whole months from 1 to 1200, e.g. retention_months = 24"
        ),
        error_messages={"invalid": "write whole months as a number, e.g. retention_months = 24"},
    )

    # How many days a citizen's saved draft is kept before it is deleted.
    draft_days = fields.Integer(
        strict=True,
        load_default=30,
        validate=validate.Range(
            min=1, max=365, error="write whole days from 1 to 365, e.g. draft_days = 30"
        ),
        error_messages={"invalid": "write whole days as a number, e.g. draft_days = 30"},
    )

    @validates("slug")
    def not_the_platforms(self, value: str, **kwargs) -> None:
        if value in platform_paths():
            raise ValidationError(f"'{value}' is an address of the platform's own")

    @validates("orgnr")
    def real_orgnr(self, value: str, **kwargs) -> None:
        try:
            normalize_orgnr(value)
        except InvalidNumber as exc:
            raise ValidationError(f"'{value}' is not a valid organisationsnummer") from exc

    @validates_schema
    def code_fits_kind(self, data, **kwargs):
        code, kind = data.get("scb_code", ""), data.get("kind")
        if kind == MUNICIPALITY and len(code) != 4:
            raise ValidationError({"scb_code": ["a municipality has a four-digit SCB code"]})
        if kind == REGION and len(code) != 2:
            raise ValidationError({"scb_code": ["a region has its county's two-digit code"]})
        if code and code[:2] not in COUNTY_CODES:
            raise ValidationError(
                {"scb_code": [f"'{code[:2]}' is no county code of SCB's (Värmland is 17)"]}
            )


def repeated_item(items: list[str]) -> str | None:
    """The first line of a list that an earlier one repeats (case and spaces aside): a
    citizen would be offered the same preschool twice."""
    seen = set()
    for item in items:
        key = " ".join(item.split()).casefold()
        if key in seen:
            return item
        seen.add(key)
    return None


def _no_repeats(items: list[str]) -> None:
    if (item := repeated_item(items)) is not None:
        raise ValidationError(f"'{item}' is listed twice")


SETTING_FIELDS = {
    "text": lambda: fields.String(validate=validate.Length(min=1, max=200)),
    "textarea": lambda: fields.String(validate=validate.Length(min=1, max=4000)),
    "list": lambda: fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=[validate.Length(min=1), _no_repeats],
    ),
    "money": lambda: fields.Integer(strict=True, validate=validate.Range(min=0)),
    "email": lambda: fields.Email(),
}


def settings_schema(definition: dict) -> Schema:
    """What a member may set for one e-service, as the definition declares it."""
    declared = {}
    for name, spec in definition.get("settings", {}).items():
        field = SETTING_FIELDS[spec["type"]]()
        field.required = spec["required"]
        declared[name] = field
    return Schema.from_dict(declared, name=f"{definition['slug']}Settings")()


@dataclass
class LoadedTenant:
    path: Path
    content: dict


def load_tenants(
    tenants_dir: Path, definitions: dict[str, LoadedDefinition]
) -> tuple[dict[str, LoadedTenant], list[str]]:
    """Every member file by slug, and every error found, each naming its file and field."""
    errors: list[str] = []
    if not tenants_dir.is_dir():
        return {}, [f"{tenants_dir}: the tenants folder does not exist"]
    tenants: dict[str, LoadedTenant] = {}
    unique: dict[str, dict[str, str]] = {"reference_prefix": {}, "scb_code": {}}
    for path in sorted(tenants_dir.glob("*.toml")):
        label = f"{tenants_dir.name}/{path.name}"
        raw = read_toml(path, errors, label)
        if raw is None:
            continue
        try:
            content = TenantFileSchema().load(raw)
        except ValidationError as exc:
            errors.extend(f"{label}: {w}: {m}" for w, m in flatten_errors(exc.messages))
            continue
        if content["slug"] != path.stem:
            errors.append(f"{label}: slug: '{content['slug']}' differs from the file name")
            continue
        for key, seen in unique.items():
            other = seen.get(content[key])
            if other:
                errors.append(f"{label}: {key}: '{content[key]}' is already used by {other}")
            seen[content[key]] = label
        errors.extend(_check_services(label, content, definitions))
        tenants[content["slug"]] = LoadedTenant(path=path, content=content)
    hubs = [slug for slug, tenant in tenants.items() if tenant.content["hub"]]
    if len(hubs) > 1:
        errors.append(f"{tenants_dir.name}: hub: only one member can be the hub, not {hubs}")
    return tenants, errors


def _check_services(label: str, content: dict, definitions: dict) -> list[str]:
    """Each switch's settings as the newest version declares them, where it does. A member
    may still be on an older version, which may require a setting the newest no longer
    has (or lack one the newest requires): what is required, and names no version
    declares, are checked by the version the member is on (sync.switch_problems)."""
    errors = []
    for slug, switch in content["services"].items():
        where = f"{label}: services.{slug}"
        loaded = definitions.get(slug)
        if loaded is None:
            errors.append(f"{where}: there is no e-service '{slug}' in services/")
            continue
        try:
            switch["settings"] = settings_schema(loaded.content).load(
                switch["settings"], partial=True, unknown=INCLUDE
            )
        except ValidationError as exc:
            errors.extend(f"{where}.settings.{w}: {m}" for w, m in flatten_errors(exc.messages))
    return errors
