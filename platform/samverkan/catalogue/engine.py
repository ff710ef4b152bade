"""The form engine: one definition plus a member's settings become a form.

From the same definition come the marshmallow schema that validates answers, the steps
the HTML pages render, the summary on check-answers and the receipt, and the JSON the
API serves. Conditional fields are validated only when shown, and hidden answers are
dropped, so a citizen who changes their mind never leaves stale answers behind.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError

from samverkan.catalogue import scanning
from samverkan.catalogue.fields import FIELD_TYPES, TRUTHY, localized
from samverkan.i18n import active_locale

UNKNOWN_FIELD = "Okänt fält: det finns inte i den här e-tjänsten."


@dataclass
class ValidationResult:
    answers: dict[str, Any]
    errors: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def scanner_unavailable(self) -> bool:
        """A file was refused only because it could not be scanned: try again later (503)."""
        return any(scanning.UNAVAILABLE in messages for messages in self.errors.values())


def is_empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == []


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ServiceForm:
    """A definition (as stored) bound to one member's settings."""

    def __init__(self, definition: dict, settings: dict | None = None):
        self.definition = definition
        self.settings = settings or {}
        self.steps: list[dict] = definition["steps"]
        self.fields: dict[str, dict] = {
            spec["name"]: spec for step in self.steps for spec in step["fields"]
        }
        self._schemas: dict[tuple, Schema] = {}

    # -- structure -------------------------------------------------------------------

    def step(self, step_id: str) -> dict | None:
        return next((step for step in self.steps if step["id"] == step_id), None)

    def step_index(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step["id"] == step_id)

    def options(self, spec: dict, lang: str = "sv") -> list[tuple[str, str]]:
        """(value, label) pairs; setting-driven options use the text itself as value."""
        if "options" in spec:
            return [(o["value"], localized(o["label"], lang)) for o in spec["options"]]
        if "options_setting" in spec:
            return [(item, item) for item in self.settings.get(spec["options_setting"], [])]
        return []

    @staticmethod
    def condition_met(spec: dict, answers: dict) -> bool:
        condition = spec.get("show_if")
        if condition is None:
            return True
        value = answers.get(condition["field"])
        wanted = condition["any_of"] if "any_of" in condition else [condition["equals"]]
        if isinstance(value, list):
            return any(item in wanted for item in value)
        if any(isinstance(w, bool) for w in wanted):
            # An object sent for a tick box is no tick (and cannot be looked up in a set).
            ticked = not isinstance(value, dict) and value in TRUTHY
            return ticked in wanted
        # A form posts text ("3") where the definition may say 3: compare as written.
        return value is not None and str(value) in {str(w) for w in wanted}

    def visible(self, specs: list[dict], answers: dict) -> list[dict]:
        """The fields that are shown, given the answers so far (conditions chain in order)."""
        shown: list[dict] = []
        hidden: set[str] = set()
        for spec in specs:
            condition = spec.get("show_if")
            if condition and condition["field"] in hidden:
                hidden.add(spec["name"])
                continue
            if self.condition_met(spec, answers):
                shown.append(spec)
            else:
                hidden.add(spec["name"])
        return shown

    def condition_text(self, spec: dict, lang: str = "sv") -> str:
        """When a conditional field is to be answered, in words (for pages without script)."""
        condition = spec["show_if"]
        target = self.fields[condition["field"]]
        question = localized(target["label"], lang)
        if target["type"] == "consent":
            return _("Besvaras bara om du har kryssat i ”%(question)s”.", question=question)
        wanted = condition["any_of"] if "any_of" in condition else [condition["equals"]]
        labels = dict(self.options(target, lang))
        answers = _(" eller ").join(
            _("”%(answer)s”", answer=labels.get(value, value)) for value in wanted
        )
        return _(
            "Besvaras bara om du har svarat %(answers)s på frågan ”%(question)s”.",
            answers=answers,
            question=question,
        )

    def fields_on_page(self, step: dict, answers: dict) -> list[dict]:
        """The fields a step's page shows. A condition on an earlier step's answer is
        decided here; one on a field of the same page is left to the page, which shows
        the field with a note saying when to answer it (or hides it with script)."""
        on_page = {spec["name"] for spec in step["fields"]}
        hidden: set[str] = set()
        shown = []
        for spec in step["fields"]:
            condition = spec.get("show_if")
            if condition and (
                condition["field"] in hidden
                or (condition["field"] not in on_page and not self.condition_met(spec, answers))
            ):
                hidden.add(spec["name"])
                continue
            shown.append(spec)
        return shown

    def applicable_steps(self, answers: dict) -> list[dict]:
        """Steps with something to answer, given the answers so far."""
        return [step for step in self.steps if self.fields_on_page(step, answers)]

    def all_fields(self) -> list[dict]:
        return [spec for step in self.steps for spec in step["fields"]]

    # -- validation ------------------------------------------------------------------

    def schema(self, specs: list[dict], unknown=RAISE) -> Schema:
        """The marshmallow schema for these fields, with this member's option lists. Built
        once per set of fields: a form is shared by a worker's requests (form_for), and a
        schema keeps no state between loads. Its messages are in the language of the
        request that built it, so that language is part of the key."""
        key = (tuple(spec["name"] for spec in specs), unknown, active_locale())
        schema = self._schemas.get(key)
        if schema is None:
            declared = {
                spec["name"]: FIELD_TYPES[spec["type"]].marshmallow_field(spec, self.options(spec))
                for spec in specs
            }
            name = f"{self.definition['slug']}Answers"
            schema = self._schemas[key] = Schema.from_dict(declared, name=name)(unknown=unknown)
        return schema

    def validate(
        self, specs: list[dict], raw: dict[str, Any], context: dict[str, Any] | None = None
    ) -> ValidationResult:
        """Validate raw answers for some fields; `context` holds answers from earlier steps.

        Which fields are asked follows the answers as they are stored, not as sent: " yes"
        is stored as "yes", so the question that "yes" opens must be answered too (else a
        space in the answer would skip a required one)."""
        context = context or {}
        trimmed = {name: _trimmed(value) for name, value in raw.items()}
        shown = self.visible(specs, {**context, **trimmed})
        for _pass in range(len(specs) + 1):  # a chain of conditions settles in as many passes
            answers, errors = self._load(shown, trimmed)
            settled = self.visible(specs, {**context, **trimmed, **answers})
            if settled == shown:
                break
            shown = settled
        return ValidationResult(answers=answers, errors=self._ordered(errors))

    def _load(self, shown: list[dict], trimmed: dict[str, Any]) -> tuple[dict, dict]:
        data = {
            spec["name"]: trimmed[spec["name"]]
            for spec in shown
            if spec["name"] in trimmed and not is_empty(trimmed[spec["name"]])
        }
        try:
            return self.schema(shown, unknown=EXCLUDE).load(data), {}
        except ValidationError as exc:
            answers = {k: v for k, v in exc.valid_data.items()} if exc.valid_data else {}
            return answers, {name: _messages(msgs) for name, msgs in exc.messages.items()}

    def validate_all(self, raw: dict[str, Any]) -> ValidationResult:
        """Validate a whole submission at once (the API); unknown names are refused."""
        result = self.validate(self.all_fields(), raw)
        for name in raw:
            if name not in self.fields:
                result.errors[name] = [UNKNOWN_FIELD]
        return result

    def _ordered(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        order = list(self.fields)
        return dict(
            sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 1e9)
        )

    # -- answers as stored and as shown ----------------------------------------------

    def to_json(self, answers: dict[str, Any]) -> dict[str, Any]:
        return {
            name: FIELD_TYPES[self.fields[name]["type"]].to_json(value)
            for name, value in answers.items()
            if name in self.fields
        }

    def from_json(self, stored: dict[str, Any]) -> dict[str, Any]:
        return {
            name: FIELD_TYPES[self.fields[name]["type"]].from_json(value)
            for name, value in stored.items()
            if name in self.fields
        }

    def summary(self, answers: dict[str, Any], lang: str = "sv") -> list[dict]:
        """Per step, the shown fields with their answers as a person reads them."""
        out = []
        for step in self.steps:
            rows = []
            for spec in self.visible(step["fields"], answers):
                value = answers.get(spec["name"])
                kind = FIELD_TYPES[spec["type"]]
                rows.append(
                    {
                        "name": spec["name"],
                        "label": localized(spec["label"], lang),
                        "value": ""
                        if value is None
                        else kind.display(spec, value, self.options(spec, lang), lang),
                        # Choices the member wrote in its settings are Swedish on any page.
                        "lang": "sv" if "options_setting" in spec and lang != "sv" else None,
                    }
                )
            out.append({"id": step["id"], "title": localized(step["title"], lang), "rows": rows})
        return out

    def describe(self, lang: str = "sv") -> dict:
        """The definition as this member shows it, for the API."""
        definition = self.definition
        return {
            "slug": definition["slug"],
            "version": definition["version"],
            "title": localized(definition["title"], lang),
            "summary": localized(definition["summary"], lang),
            "category": definition["category"],
            "login_required": definition.get("login_required", False),
            "steps": [
                {
                    "id": step["id"],
                    "title": localized(step["title"], lang),
                    "fields": [self._describe_field(spec, lang) for spec in step["fields"]],
                }
                for step in self.steps
            ],
        }

    def _describe_field(self, spec: dict, lang: str) -> dict:
        options = self.options(spec, lang)
        return {
            "name": spec["name"],
            "type": spec["type"],
            "label": localized(spec["label"], lang),
            "hint": localized(spec.get("hint"), lang) or None,
            "required": spec["required"],
            "options": (
                [{"value": v, "label": label} for v, label in options]
                if spec["type"] in ("choice", "multichoice")
                else None
            ),
            "condition": spec.get("show_if"),
            "schema": FIELD_TYPES[spec["type"]].json_schema(spec, options),
        }


def _messages(value) -> list[str]:
    if isinstance(value, dict):  # list fields report per index
        return [msg for sub in value.values() for msg in _messages(sub)]
    if isinstance(value, list):
        return [msg for item in value for msg in _messages(item)]
    return [str(value)]
