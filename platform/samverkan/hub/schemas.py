"""What a hub administrator enters: a new member, and a move to another e-service version.
Swedish messages per field; the member's colours are checked as its own administrators'
are (admin.schemas.ProfileSchema, which this extends)."""

import re
from datetime import date

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from samverkan.admin.schemas import FormSchema, ProfileSchema
from samverkan.catalogue.fields import WrittenDate
from samverkan.catalogue.swedish import COUNTY_CODES, InvalidNumber, normalize_orgnr
from samverkan.clock import swedish_today
from samverkan.routing import platform_paths
from samverkan.tenancy.models import MEMBER_KINDS

SPACES = re.compile(r"[\s\u00a0]")


# The platform went live in Värmland on 1 January 2013 (FACTS.md): no one is a member before.
PLATFORM_START = date(2013, 1, 1)


def _length(low: int, high: int, what: str):
    return validate.Length(min=low, max=high, error=f"{what} ska vara {low}–{high} tecken.")


def _required(message: str) -> dict:
    return {"required": message, "null": message}


class Orgnr(fields.String):
    """An organisationsnummer checked with python-stdnum, stored as NNNNNN-NNNN."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_orgnr(text)
        except InvalidNumber:
            raise ValidationError(
                "Organisationsnumret stämmer inte. Skriv de tio siffrorna, till exempel "
                "232100-0156, och kontrollera den sista (kontrollsiffran)."
            ) from None


class WholeNumber(fields.Integer):
    """A whole number as people write it: '283 548' or '283548'."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = SPACES.sub("", value)
            if not value.isdigit() or not value.isascii():
                raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class MemberFactsSchema(FormSchema):
    """What the hub records of a member beside its profile: its organisation number, and
    its population with the year and source that cost sharing by population reads."""

    orgnr = Orgnr(allow_none=True, load_default=None)
    population_count = WholeNumber(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=100_000_000, error="Skriv ett rimligt invånarantal."),
        error_messages={"invalid": "Skriv invånarantalet med siffror, till exempel 283 548."},
    )
    population_year = WholeNumber(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1900, max=2100, error="Skriv ett årtal, till exempel 2023."),
        error_messages={"invalid": "Skriv ett årtal med fyra siffror, till exempel 2023."},
    )
    population_source = fields.String(
        allow_none=True, load_default=None, validate=_length(2, 200, "Källan")
    )

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _population_complete(self, data, original, **kwargs) -> None:
        """The figure is only usable with its reference year and source (cost sharing)."""
        parts = ("population_count", "population_year", "population_source")
        # Written but refused by its own field counts as given: one message there is enough.
        given = [
            name
            for name in parts
            if data.get(name) is not None or str(original.get(name) or "").strip()
        ]
        if given and len(given) < len(parts):
            missing = {
                "population_count": "Fyll i invånarantalet, eller lämna alla tre fälten tomma.",
                "population_year": "Fyll i året siffran gäller, eller lämna alla tre fälten tomma.",
                "population_source": "Fyll i källan, eller lämna alla tre fälten tomma.",
            }
            raise ValidationError({name: [missing[name]] for name in parts if name not in given})


class OnboardingSchema(ProfileSchema, MemberFactsSchema):
    """A new member. Name, contact details and colours are the profile's own fields."""

    slug = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[a-z][a-z0-9-]{1,39}$",
            error="Skriv adressnamnet med a–z (utan å, ä, ö), siffror och bindestreck, "
            "2–40 tecken, till exempel region-varmland.",
        ),
        error_messages=_required("Fyll i adressnamnet."),
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(MEMBER_KINDS, error="Välj kommun eller region."),
        error_messages=_required("Välj kommun eller region."),
    )
    scb_code = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^\d{2}(\d{2})?$",
            error="Skriv SCB-koden med siffror: fyra för en kommun, två för en region.",
        ),
        error_messages=_required("Fyll i SCB-koden."),
    )
    reference_prefix = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{3}$", error="Skriv tre bokstäver A–Z, till exempel RVL."),
        error_messages=_required("Fyll i prefixet för ärendenummer."),
    )
    member_since = WrittenDate(
        allow_none=True,
        load_default=None,
        error_messages={"invalid": "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2026-01-01."},
    )

    @pre_load
    def _prefix_in_capitals(self, data, **kwargs):
        prefix = data.get("reference_prefix")
        if isinstance(prefix, str):
            data = {**data, "reference_prefix": prefix.strip().upper()}
        return data

    @validates("slug")
    def _not_reserved(self, value: str, **kwargs) -> None:
        if value in platform_paths():
            raise ValidationError(
                f"”{value}” är en del av plattformens egna adresser; välj ett annat."
            )

    @validates_schema(skip_on_field_errors=False)
    def _code_fits_kind(self, data, **kwargs) -> None:
        code, kind = data.get("scb_code"), data.get("kind")
        if code and kind == "municipality" and len(code) != 4:
            raise ValidationError(
                "En kommun har en fyrsiffrig kommunkod, till exempel 1784.", "scb_code"
            )
        if code and kind == "region" and len(code) != 2:
            raise ValidationError(
                "En region har en tvåsiffrig länskod, till exempel 17.", "scb_code"
            )
        if code and kind in MEMBER_KINDS and code[:2] not in COUNTY_CODES:
            raise ValidationError(
                f"{code[:2]} är ingen länskod hos SCB; Värmlands är 17, och en kommuns kod "
                "börjar med länets.",
                "scb_code",
            )

    @validates("member_since")
    def _member_since_possible(self, value, **kwargs) -> None:
        if value is None:
            return
        if value < PLATFORM_START:
            raise ValidationError(
                f"Samverkan startade {PLATFORM_START.isoformat()}; ange det datumet eller senare."
            )
        if value > swedish_today():
            raise ValidationError(
                "Medlemskapet börjar när medlemmen läggs till här: ange dagens datum eller ett "
                "tidigare, och lägg till medlemmen när den börjar."
            )


MEMBER_FACTS_FIELDS = tuple(MemberFactsSchema().fields)

# A new member starts with the default draft lifetime (30 days); its administrators set it.
ONBOARDING_EXCLUDE = ("privacy_notice", "accessibility_statement", "draft_days")
ONBOARDING_FIELDS = tuple(OnboardingSchema(exclude=ONBOARDING_EXCLUDE).fields)


class MoveSchema(Schema):
    """Members to move to one published version of an e-service."""

    version = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=1, max=1_000_000, error="Välj en version."),
        error_messages={**_required("Välj en version."), "invalid": "Välj en version."},
    )
    members = fields.List(
        fields.String(validate=validate.Length(max=40)),
        required=True,
        validate=validate.Length(min=1, error="Välj minst en medlem att flytta."),
        error_messages=_required("Välj minst en medlem att flytta."),
    )
