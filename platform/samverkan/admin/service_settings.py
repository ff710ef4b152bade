"""A member's settings for one e-service, as an HTML form made from what the definition
declares. The values are checked by the same marshmallow schema the tenant files are
(tenancy.loader.settings_schema), so the app and the files accept the same settings; this
module turns form text into typed values and the schema's findings into Swedish."""

import re
from dataclasses import dataclass

from flask import has_request_context
from flask_babel import gettext as _
from marshmallow import ValidationError

from samverkan.catalogue.fields import localized
from samverkan.i18n import current_language
from samverkan.tenancy.loader import repeated_item, settings_schema

MONEY = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")
# The limits of tenancy.loader.SETTING_FIELDS, for the form's maxlength and the messages.
MAX_LENGTH = {"text": 200, "textarea": 4000, "list": 200, "email": 254}


@dataclass
class SettingsResult:
    settings: dict
    errors: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


def declared(definition: dict) -> dict[str, dict]:
    """The settings the definition lets a member set, by name, in the declared order."""
    return definition.get("settings", {})


def form_values(definition: dict, settings: dict) -> dict[str, str]:
    """The stored settings as the form shows them (lists one per line, money in kronor)."""
    values = {}
    for name, spec in declared(definition).items():
        value = settings.get(name)
        if value is None:
            values[name] = ""
        elif spec["type"] == "list":
            values[name] = "\n".join(value)
        elif spec["type"] == "money":
            kronor, ore = divmod(int(value), 100)
            values[name] = f"{kronor},{ore:02d}" if ore else str(kronor)
        else:
            values[name] = str(value)
    return values


def _label(spec: dict) -> str:
    """The setting's name in the page's language (Swedish outside a request: the CLI)."""
    return localized(spec["label"], current_language() if has_request_context() else "sv")


def _parse(spec: dict, text: str):
    """The typed value of one field's text, None when left empty; ValueError if unreadable."""
    text = text.strip()
    if spec["type"] == "list":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        return items or None
    if not text:
        return None
    if spec["type"] == "money":
        match = MONEY.match(re.sub(r"[\s\u00a0]", "", text).removesuffix("kr"))
        if match is None:
            raise ValueError(
                _(
                    "Skriv %(label)s i kronor med siffror, till exempel 250 eller 250,50.",
                    label=_label(spec).lower(),
                )
            )
        kronor, ore = match.group(1), (match.group(2) or "0").ljust(2, "0")
        return int(kronor) * 100 + int(ore)
    return text


def _refusal(spec: dict, value) -> str:
    """Why the schema refused a value, in the page's words (the schema's own are English)."""
    label = _label(spec)
    if value is None:
        return _("Fyll i %(label)s.", label=label.lower())
    kind = spec["type"]
    if kind == "email":
        return _("Skriv %(label)s som namn@kommun.se.", label=label.lower())
    if kind == "list" and (item := repeated_item(value)) is not None:
        return _("%(item)s står två gånger i %(label)s.", item=item, label=label.lower())
    if kind == "list":
        return _(
            "Varje rad i %(label)s får vara högst %(most)d tecken.",
            label=label.lower(),
            most=MAX_LENGTH["list"],
        )
    if kind == "money":
        return _("%(label)s kan inte vara negativ.", label=label)
    return _("%(label)s får vara högst %(most)d tecken.", label=label, most=MAX_LENGTH[kind])


def load(definition: dict, form) -> tuple[SettingsResult, dict[str, str]]:
    """Check a submitted settings form. Returns the result and the texts as entered."""
    specs = declared(definition)
    entered = {name: form.get(name, "") for name in specs}
    data, errors = {}, {}
    for name, spec in specs.items():
        try:
            value = _parse(spec, entered[name])
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if value is not None:
            data[name] = value
    try:
        settings = settings_schema(definition).load(data)
    except ValidationError as exc:
        settings = {}
        for name in exc.messages:
            errors.setdefault(name, [_refusal(specs[name], data.get(name))])
    if errors:
        return SettingsResult({}, errors), entered
    return SettingsResult(settings, {}), entered


def missing_required(definition: dict, settings: dict) -> list[str]:
    """Labels of the declared settings the stored ones do not satisfy (before switching on)."""
    try:
        settings_schema(definition).load(
            {name: settings[name] for name in declared(definition) if name in settings}
        )
    except ValidationError as exc:
        return [_label(declared(definition)[name]) for name in exc.messages]
    return []
