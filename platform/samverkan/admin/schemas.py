"""What a member's administrators may enter, checked with a message per field: made once
(_l) and worded when shown, in the page's language (these schemas serve pages only)."""

import math

from flask import has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
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
from samverkan.i18n import LANGUAGES, current_language
from samverkan.outbox.addresses import Deliverable
from samverkan.retention.periods import Months

TEXT_MAX = 20_000  # a privacy notice or accessibility statement is long, but not a book


def ratio_text(ratio: float) -> str:
    """'2,9:1' ('2.9:1' on an English page), rounded down so a ratio just under the limit
    never reads as reaching it."""
    english = has_request_context() and current_language() == "en"
    return f"{math.floor(ratio * 10) / 10:.1f}".replace(".", "." if english else ",") + ":1"


def _first_refusal(*validators):
    """The validators in turn, up to the first that refuses: 'abc' as a phone number is
    one mistake, not both 'too short' and 'not digits'."""

    def check(value) -> None:
        for validator in validators:
            validator(value)

    return check


def _length(low: int, high: int, what):
    """`what`: the message's subject, from _l ('Namnet')."""
    error = _l("%(what)s ska vara %(low)d–%(high)d tecken.", what=what, low=low, high=high)
    return validate.Length(min=low, max=high, error=error)


def _colour(required, badly_written):
    return fields.String(
        required=True,
        validate=validate.Regexp(HEX_COLOUR.pattern, error=badly_written),
        error_messages={"required": required},
    )


def _optional(field: fields.Field) -> fields.Field:
    field.allow_none = True
    field.load_default = None
    return field


class FormSchema(Schema):
    """A submitted HTML form: surrounding spaces removed, empty fields mean 'not given'."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the button travel with the form

    as_typed: tuple[str, ...] = ()  # passwords keep their spaces

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # marshmallow words a field's own messages only when they are str, and keeps any
        # other (a _l one) as it is, outside a list: made per request, this words them now.
        for field in self.fields.values():
            field.error_messages = {
                key: str(message) if isinstance(message, LazyString) else message
                for key, message in field.error_messages.items()
            }

    @pre_load
    def _blank_is_none(self, data, **kwargs):
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str) and key not in self.as_typed:
                value = value.strip()
            cleaned[key] = None if value == "" else value
        return cleaned


DAYS_MESSAGE = _l("Skriv ett helt antal dagar, till exempel 30.")


class Days(fields.Integer):
    """How many days a citizen's saved draft is kept: 1–365, digits only from a form, so
    '2 veckor' or '30,5' is refused with a message instead of being read as something else."""

    def __init__(self, **kwargs):
        super().__init__(
            strict=False,
            validate=validate.Range(
                min=1, max=365, error=_l("Sparade svar kan finnas kvar i 1–365 dagar.")
            ),
            error_messages={
                "required": _l("Fyll i hur många dagar sparade svar finns kvar."),
                "null": _l("Fyll i hur många dagar sparade svar finns kvar."),
                "invalid": DAYS_MESSAGE,
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise ValidationError(str(DAYS_MESSAGE))
        return super()._deserialize(value, attr, data, **kwargs)


class ProfileSchema(FormSchema):
    name = fields.String(
        required=True,
        validate=_length(2, 120, _l("Namnet")),
        error_messages={"required": _l("Fyll i namnet."), "null": _l("Fyll i namnet.")},
    )
    short_name = fields.String(
        required=True,
        validate=_length(2, 80, _l("Kortnamnet")),
        error_messages={"required": _l("Fyll i kortnamnet."), "null": _l("Fyll i kortnamnet.")},
    )
    # Strings with the URL and e-mail checks, not fields.URL and fields.Email: those refuse
    # a message worded when shown (_l) as their "invalid" one.
    website = _optional(
        fields.String(
            validate=_first_refusal(
                validate.Length(max=200, error=_l("Webbadressen får vara högst 200 tecken.")),
                validate.URL(
                    schemes={"https"},
                    error=_l(
                        "Skriv webbadressen med https://, till exempel https://www.arvika.se."
                    ),
                ),
            )
        )
    )
    email = _optional(
        fields.String(
            validate=_first_refusal(
                validate.Length(max=200, error=_l("E-postadressen får vara högst 200 tecken.")),
                validate.Email(error=_l("Skriv e-postadressen som namn@kommun.se.")),
                Deliverable(),
            )
        )
    )
    phone = _optional(
        fields.String(
            validate=_first_refusal(
                validate.Regexp(
                    r"^\+?[0-9 ()-]+$",
                    error=_l("Skriv telefonnumret med siffror, till exempel 0570-810 00."),
                ),
                _length(5, 40, _l("Telefonnumret")),
            )
        )
    )
    visiting_address = _optional(fields.String(validate=_length(1, 200, _l("Besöksadressen"))))
    primary_colour = _colour(
        _l("Fyll i huvudfärgen."), _l("Skriv huvudfärgen som #rrggbb, till exempel #1d4f91.")
    )
    accent_colour = _colour(
        _l("Fyll i accentfärgen."), _l("Skriv accentfärgen som #rrggbb, till exempel #1d4f91.")
    )
    privacy_notice = _optional(
        fields.String(validate=_length(1, TEXT_MAX, _l("Integritetsmeddelandet")))
    )
    accessibility_statement = _optional(
        fields.String(validate=_length(1, TEXT_MAX, _l("Tillgänglighetsredogörelsen")))
    )
    # What a visitor who has not chosen a language gets (i18n.py). A form without it
    # (the hub's onboarding form) leaves it as it is.
    default_language = fields.String(
        allow_none=True,
        validate=validate.OneOf(tuple(LANGUAGES), error=_l("Välj svenska eller engelska.")),
    )
    # Empty: no period decided, so retention thins nothing (never a made-up default).
    retention_months = Months()
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
        least = ratio_text(AA_NORMAL_TEXT)
        ratio = contrast_ratio(value, "#ffffff")
        if ratio < AA_NORMAL_TEXT:  # validated in the request: worded in its language
            raise ValidationError(
                gettext(
                    "Kontrasten mot vit text är %(ratio)s; den ska vara minst %(least)s. "
                    "Välj en mörkare huvudfärg.",
                    ratio=ratio_text(ratio),
                    least=least,
                )
            )
        ratio = contrast_ratio(value, PANEL)
        if ratio < AA_NORMAL_TEXT:
            raise ValidationError(
                gettext(
                    "Kontrasten mot den ljusgrå bakgrunden (%(panel)s) är %(ratio)s; den ska "
                    "vara minst %(least)s. Välj en mörkare huvudfärg.",
                    panel=PANEL,
                    ratio=ratio_text(ratio),
                    least=least,
                )
            )


PROFILE_FIELDS = tuple(ProfileSchema().fields)

ROLE = fields.String(
    required=True,
    validate=validate.OneOf(tuple(ROLES), error=_l("Välj administratör eller handläggare.")),
    error_messages={"required": _l("Välj en roll."), "null": _l("Välj en roll.")},
)


class RoleSchema(FormSchema):
    role = ROLE


class InvitationSchema(FormSchema):
    name = fields.String(
        required=True,
        validate=_length(2, 120, _l("Namnet")),
        error_messages={"required": _l("Fyll i namnet."), "null": _l("Fyll i namnet.")},
    )
    email = fields.String(
        required=True,
        # fields.Email would refuse a message worded when shown (_l) as its "invalid" one.
        validate=[
            validate.Email(error=_l("Skriv e-postadressen som namn@kommun.se.")),
            validate.Length(max=254, error=_l("E-postadressen får vara högst 254 tecken.")),
            Deliverable(),
        ],
        error_messages={
            "required": _l("Fyll i e-postadressen."),
            "null": _l("Fyll i e-postadressen."),
        },
    )
    role = ROLE


_PASSWORD_MESSAGES = {"required": _l("Fyll i lösenordet."), "null": _l("Fyll i lösenordet.")}


class NewAccountSchema(FormSchema):
    """The invitee has no account yet: they choose their name and a password."""

    name = fields.String(
        required=True,
        validate=_length(2, 120, _l("Namnet")),
        error_messages={"required": _l("Fyll i ditt namn."), "null": _l("Fyll i ditt namn.")},
    )
    password = fields.String(
        required=True,
        validate=validate.Length(
            min=MIN_PASSWORD_LENGTH,
            max=200,
            error=_l("Lösenordet ska vara %(least)d–200 tecken.", least=MIN_PASSWORD_LENGTH),
        ),
        error_messages=_PASSWORD_MESSAGES,
    )
    password_again = fields.String(
        required=True,
        error_messages={
            "required": _l("Skriv lösenordet igen."),
            "null": _l("Skriv lösenordet igen."),
        },
    )

    as_typed = ("password", "password_again")

    @validates_schema
    def _same_twice(self, data, **kwargs):
        if "password" in data and data.get("password_again") != data["password"]:
            raise ValidationError(gettext("Lösenorden är inte lika."), "password_again")


class ExistingAccountSchema(FormSchema):
    """The invitee already has an account: they prove it is theirs with its password."""

    as_typed = ("password",)

    password = fields.String(
        required=True,
        validate=validate.Length(max=200, error=_l("Fel lösenord.")),
        error_messages={
            "required": _l("Fyll i lösenordet till ditt konto."),
            "null": _l("Fyll i lösenordet till ditt konto."),
        },
    )
