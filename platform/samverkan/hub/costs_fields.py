"""The fields of the hub's cost forms: amounts in kronor (exact öre), percentages, whole
numbers and periods, each refusing what it cannot read exactly with a Swedish message."""

import re
from decimal import Decimal

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from samverkan.costs.importer import PERCENT
from samverkan.costs.models import MAX_POOL_ORE
from samverkan.costs.runs import period_bounds

AMOUNT_EXAMPLE = "till exempel 1 250 000,00"
# Thousands separated by a space (or none), öre after a comma.
_KRONOR = re.compile(r"^([0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:,([0-9]{1,2}))?$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_kronor(text: str) -> int:
    """'1 250 000,00' (or '1250000', '12,5', '250 kr') → öre. ValueError with a Swedish
    message for anything that is not an exact amount in kronor."""
    cleaned = _SPACES.sub(" ", text).strip()
    cleaned = re.sub(r"\s*(kr|kronor|SEK)$", "", cleaned, flags=re.IGNORECASE)
    match = _KRONOR.match(cleaned)
    if match is None:
        if re.fullmatch(r"[0-9 ]+\.[0-9]+", cleaned):
            raise ValueError(f"Skriv ören efter ett kommatecken, {AMOUNT_EXAMPLE}.")
        if cleaned.startswith("-"):
            raise ValueError("Beloppet kan inte vara negativt.")
        if re.fullmatch(r"[0-9 ]+,[0-9]{3,}", cleaned):
            raise ValueError("Beloppet kan ha högst två decimaler (ören).")
        raise ValueError(f"Skriv beloppet i kronor med siffror, {AMOUNT_EXAMPLE}.")
    kronor = int(match.group(1).replace(" ", ""))
    ore = int((match.group(2) or "0").ljust(2, "0"))
    amount = kronor * 100 + ore
    if amount > MAX_POOL_ORE:
        raise ValueError("Beloppet är orimligt stort; kontrollera antalet siffror.")
    return amount


class Kronor(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if not isinstance(value, str):
            raise ValidationError(f"Skriv beloppet i kronor, {AMOUNT_EXAMPLE}.")
        try:
            return parse_kronor(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class Percent(fields.Field):
    """'6,25' or '6.25' → '6.25' (a string, as the engine keeps it exact); 0–100."""

    def __init__(self, what: str, **kwargs):
        super().__init__(**kwargs)
        self.what = what

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = str(value).replace(" ", "").removesuffix("%")
        if not PERCENT.match(text):
            raise ValidationError(
                f"Skriv {self.what} som ett tal mellan 0 och 100, till exempel 6,25."
            )
        number = Decimal(text.replace(",", "."))
        if number > 100:
            raise ValidationError(f"{self.what.capitalize()} kan inte vara över 100 %.")
        return format(number.normalize(), "f")


class WholeNumber(fields.Field):
    """'97 233' → 97233."""

    def __init__(self, message: str, **kwargs):
        super().__init__(**kwargs)
        self.message = message

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        text = _SPACES.sub("", str(value))
        # At most what the database's integer column holds (and far above any population).
        if not text.isdigit() or not text.isascii() or len(text) > 10 or int(text) >= 2**31:
            raise ValidationError(self.message)
        return int(text)


def optional(field: fields.Field) -> fields.Field:
    field.allow_none = True
    field.load_default = None
    return field


class Form(Schema):
    """A submitted HTML form: surrounding spaces removed, an empty field is 'not given'."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_is_none(self, data, **kwargs):
        return {
            key: (
                None
                if value is None or (isinstance(value, str) and not value.strip())
                else value.strip()
                if isinstance(value, str)
                else value
            )
            for key, value in data.items()
        }


def period_field() -> fields.String:
    return fields.String(
        required=True,
        validate=valid_period,
        error_messages={"required": "Fyll i perioden.", "null": "Fyll i perioden."},
    )


def valid_period(value: str) -> None:
    try:
        start, _ = period_bounds(value)
    except ValueError as exc:
        raise ValidationError("Skriv perioden som ett år (2026) eller en månad (2026-03).") from exc
    if not 2000 <= start.year <= 2100:
        raise ValidationError("Perioden ska ligga mellan år 2000 och 2100.")
