"""What a member's administrators may enter, checked with Swedish messages per field."""

import math

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from samverkan.accounts.models import ROLES
from samverkan.accounts.operations import MIN_PASSWORD_LENGTH
from samverkan.colours import AA_NORMAL_TEXT, HEX_COLOUR, PANEL, contrast_ratio
from samverkan.i18n import LANGUAGES
from samverkan.retention.periods import Months

TEXT_MAX = 20_000  # a privacy notice or accessibility statement is long, but not a book


def ratio_text(ratio: float) -> str:
    """'2,9:1', rounded down so a ratio just under the limit never reads as reaching it."""
    return f"{math.floor(ratio * 10) / 10:.1f}".replace(".", ",") + ":1"


def _length(low: int, high: int, what: str):
    return validate.Length(min=low, max=high, error=f"{what} ska vara {low}–{high} tecken.")


def _colour(what: str):
    return fields.String(
        required=True,
        validate=validate.Regexp(
            HEX_COLOUR.pattern, error=f"Skriv {what} som #rrggbb, till exempel #1d4f91."
        ),
        error_messages={"required": f"Fyll i {what}."},
    )


def _optional(field: fields.Field) -> fields.Field:
    field.allow_none = True
    field.load_default = None
    return field


class _Form(Schema):
    """A submitted HTML form: surrounding spaces removed, empty fields mean 'not given'."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the button travel with the form

    as_typed: tuple[str, ...] = ()  # passwords keep their spaces

    @pre_load
    def _blank_is_none(self, data, **kwargs):
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str) and key not in self.as_typed:
                value = value.strip()
            cleaned[key] = None if value == "" else value
        return cleaned


DAYS_MESSAGE = "Skriv ett helt antal dagar, till exempel 30."


class Days(fields.Integer):
    """How many days a citizen's saved draft is kept: 1–365, digits only from a form, so
    '2 veckor' or '30,5' is refused with a message instead of being read as something else."""

    def __init__(self, **kwargs):
        super().__init__(
            strict=False,
            validate=validate.Range(
                min=1, max=365, error="Sparade svar kan finnas kvar i 1–365 dagar."
            ),
            error_messages={
                "required": "Fyll i hur många dagar sparade svar finns kvar.",
                "null": "Fyll i hur många dagar sparade svar finns kvar.",
                "invalid": DAYS_MESSAGE,
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise ValidationError(DAYS_MESSAGE)
        return super()._deserialize(value, attr, data, **kwargs)


class ProfileSchema(_Form):
    name = fields.String(
        required=True,
        validate=_length(2, 120, "Namnet"),
        error_messages={"required": "Fyll i namnet.", "null": "Fyll i namnet."},
    )
    short_name = fields.String(
        required=True,
        validate=_length(2, 80, "Kortnamnet"),
        error_messages={"required": "Fyll i kortnamnet.", "null": "Fyll i kortnamnet."},
    )
    website = _optional(
        fields.URL(
            schemes={"https"},
            validate=validate.Length(max=200, error="Webbadressen får vara högst 200 tecken."),
            error_messages={
                "invalid": "Skriv webbadressen med https://, till exempel https://www.arvika.se."
            },
        )
    )
    email = _optional(
        fields.Email(
            validate=validate.Length(max=200, error="E-postadressen får vara högst 200 tecken."),
            error_messages={"invalid": "Skriv e-postadressen som namn@kommun.se."},
        )
    )
    phone = _optional(
        fields.String(
            validate=[
                _length(5, 40, "Telefonnumret"),
                validate.Regexp(
                    r"^\+?[0-9 ()-]+$",
                    error="Skriv telefonnumret med siffror, till exempel 0570-810 00.",
                ),
            ]
        )
    )
    visiting_address = _optional(fields.String(validate=_length(1, 200, "Besöksadressen")))
    primary_colour = _colour("huvudfärgen")
    accent_colour = _colour("accentfärgen")
    privacy_notice = _optional(
        fields.String(validate=_length(1, TEXT_MAX, "Integritetsmeddelandet"))
    )
    accessibility_statement = _optional(
        fields.String(validate=_length(1, TEXT_MAX, "Tillgänglighetsredogörelsen"))
    )
    # What a visitor who has not chosen a language gets (i18n.py). A form without it
    # (the hub's onboarding form) leaves it as it is.
    default_language = fields.String(
        allow_none=True,
        validate=validate.OneOf(tuple(LANGUAGES), error="Välj svenska eller engelska."),
    )
    # Empty: no period decided, so retention thins nothing (never a made-up default).
    retention_months = Months("gallringsfristen")
    # How long a citizen's saved draft is kept. Left empty: an error; a form without it
    # (the hub's onboarding form, older clients) leaves it as it is (admin/profile.py).
    draft_days = Days()

    @post_load
    def _language_not_given_is_kept(self, data, **kwargs):
        if data.get("default_language") is None:
            data.pop("default_language", None)
        return data

    @validates("primary_colour")
    def _readable(self, value: str, **kwargs) -> None:
        """The header is this colour with white text, and links are this colour on white and
        on the light panels: each must reach WCAG AA for normal text (the file sync checks
        the same, tenancy/loader.py)."""
        if not HEX_COLOUR.match(value):
            return  # the format message says what to do
        for background, where in (
            ("#ffffff", "Kontrasten mot vit text"),
            (PANEL, f"Kontrasten mot den ljusgrå bakgrunden ({PANEL})"),
        ):
            ratio = contrast_ratio(value, background)
            if ratio < AA_NORMAL_TEXT:
                raise ValidationError(
                    f"{where} är {ratio_text(ratio)}; den ska vara minst "
                    f"{ratio_text(AA_NORMAL_TEXT)}. Välj en mörkare huvudfärg."
                )


PROFILE_FIELDS = tuple(ProfileSchema().fields)

ROLE = fields.String(
    required=True,
    validate=validate.OneOf(tuple(ROLES), error="Välj administratör eller handläggare."),
    error_messages={"required": "Välj en roll.", "null": "Välj en roll."},
)


class RoleSchema(_Form):
    role = ROLE


class InvitationSchema(_Form):
    name = fields.String(
        required=True,
        validate=_length(2, 120, "Namnet"),
        error_messages={"required": "Fyll i namnet.", "null": "Fyll i namnet."},
    )
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254, error="E-postadressen får vara högst 254 tecken."),
        error_messages={
            "required": "Fyll i e-postadressen.",
            "null": "Fyll i e-postadressen.",
            "invalid": "Skriv e-postadressen som namn@kommun.se.",
        },
    )
    role = ROLE


_PASSWORD_MESSAGES = {"required": "Fyll i lösenordet.", "null": "Fyll i lösenordet."}


class NewAccountSchema(_Form):
    """The invitee has no account yet: they choose their name and a password."""

    name = fields.String(
        required=True,
        validate=_length(2, 120, "Namnet"),
        error_messages={"required": "Fyll i ditt namn.", "null": "Fyll i ditt namn."},
    )
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_PASSWORD_LENGTH,
            max=200,
            error=f"Lösenordet ska vara {MIN_PASSWORD_LENGTH}–200 tecken.",
        ),
        error_messages=_PASSWORD_MESSAGES,
    )
    password_again = fields.String(
        required=True,
        error_messages={"required": "Skriv lösenordet igen.", "null": "Skriv lösenordet igen."},
    )

    as_typed = ("password", "password_again")

    @validates_schema
    def _same_twice(self, data, **kwargs):
        if "password" in data and data.get("password_again") != data["password"]:
            raise ValidationError("Lösenorden är inte lika.", "password_again")


class ExistingAccountSchema(_Form):
    """The invitee already has an account: they prove it is theirs with its password."""

    as_typed = ("password",)

    password = fields.String(
        required=True,
        validate=validate.Length(max=200, error="Fel lösenord."),
        error_messages={
            "required": "Fyll i lösenordet till ditt konto.",
            "null": "Fyll i lösenordet till ditt konto.",
        },
    )
