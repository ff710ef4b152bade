"""Field types of the form engine: how each is validated, read from a form, and shown.

A registry like CTFd's challenge classes: the definition names a type, the engine asks
the type for a marshmallow field (built for each validation, so in the request's
language). Messages are the Swedish ones a citizen reads, translated with Flask-Babel.
"""

import base64
import binascii
import re
from datetime import date
from typing import Any

from babel.dates import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from stdnum.util import isdigits

from samverkan.catalogue import scanning, swedish
from samverkan.catalogue.uploads import FILE_KINDS, IncomingFile, StoredFile, sniff_kind
from samverkan.clock import swedish_today
from samverkan.outbox.addresses import Deliverable

REQUIRED = _l("Du måste fylla i det här fältet.")
NOT_TEXT = _l("Svaret är inte text.")
TRUTHY = {True, "ja", "true", "on"}  # what a ticked consent box may arrive as
MARKUP = re.compile(r"<\s*[a-zA-Z/!?]")
# Control characters, and lone UTF-16 surrogates (half a character, not text at all).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]*$")


def localized(text: dict | None, lang: str = "sv") -> str:
    if not text:
        return ""
    return text.get(lang) or text.get("sv", "")


class CleanString(fields.String):
    """A string with surrounding space removed, no control characters and no HTML markup."""

    def _deserialize(self, value, attr, data, **kwargs):
        # A browser sends a line break as CRLF but counts it as one character towards the
        # field's maxlength: one here too, so the length check never refuses what the
        # field let through.
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            raise ValidationError(self.error_messages.get("required", str(REQUIRED)))
        if CONTROL.search(text):
            raise ValidationError(_("Texten innehåller otillåtna tecken."))
        if MARKUP.search(text):
            raise ValidationError(
                _("Texten får inte innehålla HTML-kod. Ta bort tecknet < eller skriv det som text.")
            )
        return text


class WrittenDate(fields.Date):
    """A date written YYYY-MM-DD, as the messages and the API's documents say: Python's
    fromisoformat also takes 20270501 and week dates (2027-W18-1), which nobody means."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not WRITTEN_DATE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


WRITTEN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class NormalizedNumber(CleanString):
    """A Swedish identity number or postcode, returned in its standard written form."""

    def __init__(self, normalize, message: str, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize
        self.message = message

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return self.normalize(text)
        except swedish.InvalidNumber as exc:
            raise ValidationError(str(self.message)) from exc


class WholeNumber(fields.Integer):
    """An integer; a number with decimals is refused rather than cut off."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        if isinstance(value, str) and not isdigits(value.lstrip("-+")):
            raise self.make_error("invalid")
        return super()._validated(value)


def upload_limit(max_bytes: int) -> int:
    """How large a file a field takes: its definition's limit, and below what the scanner
    takes whole, whatever the definition allows."""
    scanner = scanning.current_scanner()
    return max_bytes if scanner is None else min(max_bytes, scanner.max_file_bytes)


def file_limit_bytes(spec: dict) -> int:
    """How large a file a file field takes, in bytes (UploadField checks the same)."""
    return upload_limit(spec.get("max_size_mb", 10) * 1024 * 1024)


def file_limit_mb(spec: dict) -> int:
    """A file field's limit in whole MB, as its messages give it."""
    return file_limit_bytes(spec) // (1024 * 1024)


class UploadField(fields.Field):
    """A file from a form post (FileStorage), from the API (base64), or already stored.

    Checked in order: size, what the content really is against the field's allow-list,
    and then, when a scanner is configured, malware: all before anything is written."""

    def __init__(self, accept: list[str], max_bytes: int, **kwargs):
        super().__init__(**kwargs)
        self.accept = accept
        self.max_bytes = max_bytes

    def _deserialize(self, value, attr, data, **kwargs):
        limit = upload_limit(self.max_bytes)
        if isinstance(value, StoredFile):
            # Stored earlier in the draft after these checks, but perhaps for an earlier
            # version of the e-service that took more kinds or larger files (a draft carried
            # over: cases/operations.py): its kind and size are checked again, not its content.
            kind = next(
                (k for k, (_name, mime, _ext) in FILE_KINDS.items() if mime == value.content_type),
                None,
            )
            if kind not in self.accept:
                raise ValidationError(self._wrong_kind())
            if value.size > limit:
                raise ValidationError(self._too_large(limit))
            return value
        scanner = scanning.current_scanner()
        if hasattr(value, "stream") and hasattr(value, "filename"):  # werkzeug FileStorage
            filename = value.filename or ""
            content = value.stream.read(limit + 1)
        elif isinstance(value, dict) and set(value) == {"filename", "content_base64"}:
            filename = value["filename"]
            if not isinstance(filename, str) or not filename.strip():
                raise ValidationError(_("Skicka filens namn som text."))
            try:
                content = base64.b64decode(str(value["content_base64"]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(_("Filens innehåll är inte giltig base64.")) from exc
        else:
            raise ValidationError('Skicka filen som {"filename": "...", "content_base64": "..."}.')
        if not content:
            raise ValidationError(_("Filen är tom. Välj en fil med innehåll."))
        if len(content) > limit:
            raise ValidationError(self._too_large(limit))
        kind = sniff_kind(content)
        if kind not in self.accept:
            raise ValidationError(self._wrong_kind())
        if scanner is not None:
            problem = scanning.check(scanner, content)
            if problem is not None:
                raise ValidationError(problem)
        return IncomingFile(filename=filename, data=content, kind=kind)

    def _too_large(self, limit: int) -> str:
        return _("Filen är för stor. Den får vara högst %(mb)s MB.", mb=limit // (1024 * 1024))

    def _wrong_kind(self) -> str:
        names = [FILE_KINDS[k][0] for k in self.accept]
        names = str(_(" eller ")).join(filter(None, [", ".join(names[:-1]), names[-1]]))
        return _("Filen måste vara av typen %(names)s.", names=names)


class FieldType:
    """Base for a field type; subclasses say how to validate, read and show the value."""

    name = ""
    template = "text"
    input_type = "text"

    def messages(self, spec: dict) -> dict[str, str]:
        return {
            "required": str(REQUIRED),
            "null": str(REQUIRED),
            "invalid": _("Ogiltigt värde."),
            "invalid_utf8": str(NOT_TEXT),  # bytes where text belongs
        }

    def marshmallow_field(self, spec: dict, options: list[tuple[str, str]]) -> fields.Field:
        raise NotImplementedError

    def from_form(self, spec: dict, form, files) -> Any:
        return form.get(spec["name"])

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, value: Any) -> Any:
        return value

    def display(
        self, spec: dict, value: Any, options: list[tuple[str, str]], lang: str = "sv"
    ) -> str:
        """The answer as a person reads it, in `lang` (options come in it already)."""
        return "" if value is None else str(value)

    def json_schema(self, spec: dict, options: list[tuple[str, str]]) -> dict:
        return {"type": "string"}


class TextType(FieldType):
    name = "text"
    default_max = 200

    def marshmallow_field(self, spec, options):
        limit = spec.get("max_length", self.default_max)
        return CleanString(
            required=spec["required"],
            error_messages=self.messages(spec),
            validate=validate.Length(
                max=limit, error=_("Texten får vara högst %(limit)s tecken.", limit=limit)
            ),
        )

    def json_schema(self, spec, options):
        return {"type": "string", "maxLength": spec.get("max_length", self.default_max)}


class TextareaType(TextType):
    name = "textarea"
    template = "textarea"
    default_max = 4000


class EmailType(FieldType):
    name = "email"
    input_type = "email"

    def marshmallow_field(self, spec, options):
        return fields.Email(
            required=spec["required"],
            error_messages={
                **self.messages(spec),
                "invalid": _("Ange en giltig e-postadress, till exempel namn@exempel.se."),
            },
            validate=[
                validate.Length(max=254, error=_("E-postadressen är för lång.")),
                Deliverable(),
            ],
        )

    def json_schema(self, spec, options):
        return {"type": "string", "format": "email", "maxLength": 254}


class PhoneType(FieldType):
    name = "phone"
    input_type = "tel"

    def marshmallow_field(self, spec, options):
        message = _("Ange ett telefonnummer med siffror, till exempel 070-123 45 67.")

        def check(value: str) -> None:
            digits = sum(ch.isdigit() for ch in value)
            if not PHONE.match(value) or not 7 <= digits <= 15:
                raise ValidationError(message)

        return CleanString(
            required=spec["required"], error_messages=self.messages(spec), validate=check
        )

    def json_schema(self, spec, options):
        return {"type": "string", "maxLength": 30}


class PersonnummerType(FieldType):
    name = "personnummer"
    message = _l(
        "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
        "till exempel ÅÅÅÅMMDD-NNNN."
    )

    def marshmallow_field(self, spec, options):
        return NormalizedNumber(
            swedish.normalize_personnummer,
            self.message,
            required=spec["required"],
            error_messages=self.messages(spec),
        )

    def json_schema(self, spec, options):
        return {"type": "string", "example": "19811228-9874"}


class OrgnrType(FieldType):
    name = "orgnr"

    def marshmallow_field(self, spec, options):
        return NormalizedNumber(
            swedish.normalize_orgnr,
            _("Ange ett giltigt organisationsnummer med 10 siffror, till exempel NNNNNN-NNNN."),
            required=spec["required"],
            error_messages=self.messages(spec),
        )


class PostnummerType(FieldType):
    name = "postnummer"

    def marshmallow_field(self, spec, options):
        return NormalizedNumber(
            swedish.normalize_postnummer,
            _("Ange ett postnummer med fem siffror, till exempel 123 45."),
            required=spec["required"],
            error_messages=self.messages(spec),
        )


class DateType(FieldType):
    name = "date"
    input_type = "date"

    def marshmallow_field(self, spec, options):
        def in_range(value: date) -> None:
            if spec.get("range") == "future" and value < swedish_today():
                raise ValidationError(_("Datumet måste vara i dag eller senare."))
            if spec.get("range") == "past" and value > swedish_today():
                raise ValidationError(_("Datumet får inte vara i framtiden."))

        return WrittenDate(
            required=spec["required"],
            error_messages={
                **self.messages(spec),
                "invalid": _("Ange ett datum som ÅÅÅÅ-MM-DD, till exempel 2027-01-15."),
            },
            validate=in_range,
        )

    def to_json(self, value):
        return value.isoformat()

    def from_json(self, value):
        return date.fromisoformat(value)

    def display(self, spec, value, options, lang="sv"):
        """As it was typed in Swedish (2027-03-01, how dates are written here); in words
        in English (1 March 2027), as the pages' other dates."""
        if value is None:
            return ""
        if lang == "sv":
            return value.isoformat()
        return format_date(value, "d MMMM y", locale=lang)

    def json_schema(self, spec, options):
        return {"type": "string", "format": "date"}


class NumberType(FieldType):
    name = "number"
    input_type = "text"

    def marshmallow_field(self, spec, options):
        low, high = spec.get("min"), spec.get("max")
        if low is not None and high is not None:
            message = _("Ange ett heltal mellan %(low)s och %(high)s.", low=low, high=high)
        elif low is not None:
            message = _("Ange ett heltal som är %(low)s eller större.", low=low)
        else:
            message = _("Ange ett heltal som är högst %(high)s.", high=high)
        return WholeNumber(
            required=spec["required"],
            strict=False,
            error_messages={
                **self.messages(spec),
                "invalid": _("Ange ett heltal, till exempel 12."),
                "too_large": message,
            },
            validate=validate.Range(min=low, max=high, error=message),
        )

    def from_form(self, spec, form, files):
        value = form.get(spec["name"])
        return value.replace(" ", "").replace("\u00a0", "") if value else value

    def display(self, spec, value, options, lang="sv"):
        unit = localized(spec.get("unit"), lang)
        return f"{value} {unit}".strip()

    def json_schema(self, spec, options):
        schema: dict[str, Any] = {"type": "integer"}
        if "min" in spec:
            schema["minimum"] = spec["min"]
        if "max" in spec:
            schema["maximum"] = spec["max"]
        return schema


class ChoiceType(FieldType):
    name = "choice"
    template = "choice"

    def marshmallow_field(self, spec, options):
        return fields.String(
            required=spec["required"],
            error_messages={**self.messages(spec), "required": _("Välj ett av alternativen.")},
            validate=validate.OneOf(
                [value for value, _ in options], error=_("Välj ett av alternativen.")
            ),
        )

    def display(self, spec, value, options, lang="sv"):
        return dict(options).get(value, value or "")

    def json_schema(self, spec, options):
        return {"type": "string", "enum": [value for value, _ in options]}


class MultichoiceType(FieldType):
    name = "multichoice"
    template = "multichoice"

    def marshmallow_field(self, spec, options):
        allowed = [value for value, _ in options]
        limit = spec.get("max_choices")

        def check(values: list[str]) -> None:
            if not values:
                raise ValidationError(_("Välj minst ett alternativ."))
            if len(set(values)) != len(values):
                raise ValidationError(_("Välj varje alternativ bara en gång."))
            if limit and len(values) > limit:
                raise ValidationError(_("Välj högst %(limit)s alternativ.", limit=limit))

        return fields.List(
            fields.String(
                validate=validate.OneOf(allowed, error=_("Välj bland alternativen.")),
                error_messages={
                    "invalid": _("Välj bland alternativen."),
                    "invalid_utf8": str(NOT_TEXT),
                    "null": str(REQUIRED),
                },
            ),
            required=spec["required"],
            error_messages={
                **self.messages(spec),
                "required": _("Välj minst ett alternativ."),
                "invalid": _("Skicka alternativen som en lista."),
            },
            validate=check,
        )

    def from_form(self, spec, form, files):
        return form.getlist(spec["name"]) or None

    def display(self, spec, value, options, lang="sv"):
        labels = dict(options)
        return ", ".join(labels.get(item, item) for item in value or [])

    def json_schema(self, spec, options):
        schema = {"type": "array", "items": {"type": "string", "enum": [v for v, _ in options]}}
        if "max_choices" in spec:
            schema["maxItems"] = spec["max_choices"]
        return schema


class _Ticked(fields.Boolean):
    """marshmallow's Boolean, but a number is no answer: 1 == True in Python, so the JSON
    number 1 was taken as a ticked box (and 0 as not) where the schema says boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class ConsentType(FieldType):
    name = "consent"
    template = "consent"
    message = _l("Du måste kryssa i rutan för att gå vidare.")

    def marshmallow_field(self, spec, options):
        def ticked(value: bool) -> None:
            if spec["required"] and value is not True:
                raise ValidationError(str(self.message))

        return _Ticked(
            required=spec["required"],
            truthy=TRUTHY,
            falsy={False, "nej", "false"},
            error_messages={
                **self.messages(spec),
                "required": str(self.message),
                "invalid": _("Svara med sant eller falskt."),
            },
            validate=ticked,
        )

    def display(self, spec, value, options, lang="sv"):
        return str(_("Ja") if value else _("Nej"))

    def json_schema(self, spec, options):
        return {"type": "boolean"}


class FileType(FieldType):
    name = "file"
    template = "file"

    def marshmallow_field(self, spec, options):
        return UploadField(
            accept=spec.get("accept", list(FILE_KINDS)),
            max_bytes=spec.get("max_size_mb", 10) * 1024 * 1024,
            required=spec["required"],
            error_messages={**self.messages(spec), "required": _("Välj en fil att ladda upp.")},
        )

    def from_form(self, spec, form, files):
        upload = files.get(spec["name"])
        return upload if upload is not None and upload.filename else None

    def to_json(self, value):
        return value.to_json()

    def from_json(self, value):
        return StoredFile.from_json(value)

    def display(self, spec, value, options, lang="sv"):
        if value is None:
            return ""
        return f"{value.filename} ({max(1, round(value.size / 1024))} kB)"

    def json_schema(self, spec, options):
        return {
            "type": "object",
            "required": ["filename", "content_base64"],
            "additionalProperties": False,
            "properties": {
                "filename": {"type": "string"},
                "content_base64": {"type": "string", "contentEncoding": "base64"},
            },
        }


FIELD_TYPES: dict[str, FieldType] = {
    cls.name: cls()
    for cls in (
        TextType,
        TextareaType,
        EmailType,
        PhoneType,
        PersonnummerType,
        OrgnrType,
        PostnummerType,
        DateType,
        NumberType,
        ChoiceType,
        MultichoiceType,
        ConsentType,
        FileType,
    )
}
