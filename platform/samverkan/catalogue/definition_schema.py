"""marshmallow schemas that validate the TOML files in services/ before anything is stored."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from samverkan.catalogue.uploads import FILE_KINDS
from samverkan.tenancy.models import MEMBER_KINDS

FIELD_TYPES = (
    "text",
    "textarea",
    "email",
    "phone",
    "personnummer",
    "orgnr",
    "postnummer",
    "date",
    "number",
    "choice",
    "multichoice",
    "consent",
    "file",
)
SETTING_TYPES = ("text", "textarea", "list", "money", "email")
SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="use lower-case a-z, 0-9 and '-' only")
NAME = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="use lower-case a-z, 0-9 and '_' only")
OPTION_VALUE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]*$", error="use lower-case a-z, 0-9, '_', '-'")

# Keys that only make sense for some field types.
TYPE_KEYS = {
    "options": ("choice", "multichoice"),
    "options_setting": ("choice", "multichoice"),
    "max_choices": ("multichoice",),
    "max_length": ("text", "textarea"),
    "min": ("number",),
    "max": ("number",),
    "unit": ("number",),
    "range": ("date",),
    "accept": ("file",),
    "max_size_mb": ("file",),
    "autocomplete": ("text", "textarea", "date"),
    "prefill": ("personnummer", "text"),
}
# What a signed-in citizen's e-ID can fill in (read-only), and the field type each needs.
PREFILL = {"personnummer": "personnummer", "name": "text"}
# Input purposes (WCAG 1.3.5) a field about the person filling in the form may declare.
AUTOCOMPLETE = (
    "name",
    "given-name",
    "family-name",
    "street-address",
    "address-line1",
    "postal-code",
    "address-level2",
    "email",
    "tel",
    "organization",
    "bday",
)


class LocalText(Schema):
    """A text shown to people: Swedish first, English second."""

    sv = fields.String(required=True, validate=validate.Length(min=1))
    en = fields.String(required=True, validate=validate.Length(min=1))


class OptionSchema(Schema):
    value = fields.String(required=True, validate=OPTION_VALUE)
    label = fields.Nested(LocalText, required=True)


class ConditionSchema(Schema):
    field = fields.String(required=True, validate=NAME)
    equals = fields.Raw()
    any_of = fields.List(fields.Raw(), validate=validate.Length(min=1))

    @validates_schema
    def one_test(self, data, **kwargs):
        if ("equals" in data) == ("any_of" in data):
            raise ValidationError("give exactly one of 'equals' or 'any_of'")


# The field name the files of a citizen's completion go under (cases/models.py): a form's
# field of that name would look the same to the staff API and the archive.
RESERVED_FIELD_NAMES = frozenset({"completion"})


def _not_reserved(name: str) -> None:
    if name in RESERVED_FIELD_NAMES:
        raise ValidationError(f"'{name}' is reserved: the files of a citizen's completion")


class FieldSchema(Schema):
    name = fields.String(required=True, validate=[NAME, _not_reserved])
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    label = fields.Nested(LocalText, required=True)
    hint = fields.Nested(LocalText)
    required = fields.Boolean(load_default=True)
    show_if = fields.Nested(ConditionSchema)
    options = fields.List(fields.Nested(OptionSchema), validate=validate.Length(min=1))
    options_setting = fields.String(validate=NAME)
    max_choices = fields.Integer(validate=validate.Range(min=1))
    max_length = fields.Integer(validate=validate.Range(min=1, max=20000))
    min = fields.Integer()
    max = fields.Integer()
    unit = fields.Nested(LocalText)
    range = fields.String(validate=validate.OneOf(("future", "past")))
    accept = fields.List(
        fields.String(validate=validate.OneOf(tuple(FILE_KINDS))), validate=validate.Length(min=1)
    )
    # base64 in a JSON body adds a third: 15 MB of file stays under the 25 MB request limit
    autocomplete = fields.String(validate=validate.OneOf(AUTOCOMPLETE))
    max_size_mb = fields.Integer(validate=validate.Range(min=1, max=15))
    prefill = fields.String(validate=validate.OneOf(tuple(PREFILL)))

    @validates_schema
    def keys_fit_type(self, data, **kwargs):
        ftype = data.get("type")
        errors = {}
        for key, types in TYPE_KEYS.items():
            if key in data and ftype not in types:
                errors[key] = [f"not allowed for a field of type '{ftype}'"]
        if ftype in ("choice", "multichoice"):
            if ("options" in data) == ("options_setting" in data):
                errors["options"] = ["give exactly one of 'options' or 'options_setting'"]
            values = [o["value"] for o in data.get("options", [])]
            if len(values) != len(set(values)):
                errors["options"] = ["option values must be unique"]
        if "prefill" in data and ftype in PREFILL.values() and PREFILL[data["prefill"]] != ftype:
            errors["prefill"] = [
                f"'{data['prefill']}' fills a field of type '{PREFILL[data['prefill']]}'"
            ]
        if "min" in data and "max" in data and data["min"] > data["max"]:
            errors["min"] = ["must not be greater than 'max'"]
        if errors:
            raise ValidationError(errors)


class StepSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]*$"))
    title = fields.Nested(LocalText, required=True)
    description = fields.Nested(LocalText)
    fields = fields.List(fields.Nested(FieldSchema), required=True, validate=validate.Length(min=1))


class SettingSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(SETTING_TYPES))
    required = fields.Boolean(load_default=False)
    label = fields.Nested(LocalText, required=True)
    hint = fields.Nested(LocalText)


class DefinitionSchema(Schema):
    slug = fields.String(required=True, validate=SLUG)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    category = fields.String(required=True, validate=SLUG)
    audience = fields.String(required=True, validate=validate.OneOf(("private", "business", "all")))
    # The kinds of member it is for (catalogue/offers.py); left out: municipalities.
    offered_to = fields.List(
        fields.String(validate=validate.OneOf(MEMBER_KINDS)),
        validate=validate.Length(min=1, error="name at least one kind of member"),
    )
    login_required = fields.Boolean(load_default=False)
    retention_years = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    title = fields.Nested(LocalText, required=True)
    summary = fields.Nested(LocalText, required=True)
    next_steps = fields.Nested(LocalText, required=True)
    settings = fields.Dict(
        keys=fields.String(validate=NAME), values=fields.Nested(SettingSchema), load_default=dict
    )
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def consistent(self, data, **kwargs):
        """Cross-field rules: unique names, conditions and option settings that resolve."""
        errors: dict[str, list[str]] = {}
        seen: dict[str, dict] = {}
        step_ids = set()
        for step_index, step in enumerate(data.get("steps", [])):
            if step["id"] in step_ids:
                errors.setdefault(f"steps[{step_index}].id", []).append(
                    f"step id '{step['id']}' is used twice"
                )
            step_ids.add(step["id"])
            for field_index, spec in enumerate(step["fields"]):
                where = f"steps[{step_index}].fields[{field_index}]"
                if spec["name"] in seen:
                    errors.setdefault(f"{where}.name", []).append(
                        f"field name '{spec['name']}' is used twice"
                    )
                _check_condition(spec, seen, where, errors)
                setting = spec.get("options_setting")
                if setting is not None:
                    declared = data.get("settings", {}).get(setting)
                    if declared is None or declared["type"] != "list":
                        errors.setdefault(f"{where}.options_setting", []).append(
                            f"'{setting}' is not a setting of type 'list' in [settings]"
                        )
                    elif spec.get("required", True) and not declared["required"]:
                        # A member leaving it out would get a required choice with nothing
                        # to choose: no one could send the form.
                        errors.setdefault(f"{where}.options_setting", []).append(
                            f"'{setting}' feeds a required field, so it must be required too "
                            "(required = true under [settings."
                            f"{setting}])"
                        )
                seen[spec["name"]] = spec
        if errors:
            raise ValidationError(errors)


def _check_condition(spec: dict, earlier: dict, where: str, errors: dict) -> None:
    condition = spec.get("show_if")
    if condition is None:
        return
    target = earlier.get(condition["field"])
    key = f"{where}.show_if.field"
    if target is None:
        errors.setdefault(key, []).append(
            f"'{condition['field']}' is not a field that comes before '{spec['name']}'"
        )
        return
    wanted = condition["any_of"] if "any_of" in condition else [condition["equals"]]
    if target["type"] == "consent":
        if any(not isinstance(value, bool) for value in wanted):
            errors.setdefault(key, []).append("a consent field is compared with true or false")
    elif target["type"] in ("choice", "multichoice") and "options" in target:
        values = {option["value"] for option in target["options"]}
        unknown = [str(value) for value in wanted if value not in values]
        if unknown:
            errors.setdefault(key, []).append(
                f"'{condition['field']}' has no option {', '.join(unknown)}"
            )


def flatten_errors(messages, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict as (dotted.path, message) pairs, in a stable order."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema" or (key == "value" and isinstance(value, dict)):
                # The latter: marshmallow's Dict names its values' errors 'value'.
                path = prefix
            elif prefix:
                path = f"{prefix}.{key}"
            else:
                path = str(key)
            out.extend(flatten_errors(value, path))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, dict | list):
                out.extend(flatten_errors(item, prefix))
            else:
                out.append((prefix or "(file)", str(item)))
    else:
        out.append((prefix or "(file)", str(messages)))
    return out
