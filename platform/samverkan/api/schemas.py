"""What the API sends: marshmallow schemas that are also the OpenAPI components."""

from marshmallow import Schema, fields


class PopulationOut(Schema):
    year = fields.Integer(allow_none=True)
    count = fields.Integer(allow_none=True)
    source = fields.String(allow_none=True)


class TenantOut(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "municipality or region"})
    municipality_code = fields.String(
        required=True,
        attribute="scb_code",
        metadata={
            "description": "SCB's code: a municipality's four digits (1784), a region's "
            "county code (17)"
        },
    )
    population = fields.Nested(PopulationOut, required=True)
    hub = fields.Boolean(required=True, attribute="is_hub")
    reference_prefix = fields.String(required=True)


class ServiceOut(Schema):
    slug = fields.String(required=True, attribute="service_slug")
    title = fields.String(required=True, attribute="definition.content.title.sv")
    version = fields.Integer(required=True, attribute="definition.version")
    category = fields.String(required=True, attribute="definition.category_key")


class OptionOut(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class FieldOut(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    label = fields.String(required=True)
    hint = fields.String(allow_none=True)
    required = fields.Boolean(required=True)
    options = fields.List(fields.Nested(OptionOut), allow_none=True)
    condition = fields.Dict(allow_none=True)
    schema = fields.Dict(required=True, metadata={"description": "JSON Schema of the answer"})


class StepOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    fields = fields.List(fields.Nested(FieldOut), required=True)


class DefinitionOut(Schema):
    slug = fields.String(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    category = fields.String(required=True)
    login_required = fields.Boolean(required=True)
    steps = fields.List(fields.Nested(StepOut), required=True)


class SubmissionCreatedOut(Schema):
    reference = fields.String(required=True)
    status = fields.String(required=True)
    status_url = fields.String(required=True)


class EventOut(Schema):
    at = fields.DateTime(required=True, attribute="created_at")
    kind = fields.String(required=True)
    status = fields.String(required=True)
    message = fields.String(allow_none=True)


class CaseStatusOut(Schema):
    reference = fields.String(required=True)
    service = fields.String(required=True, attribute="service_slug")
    service_version = fields.Integer(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    history = fields.List(fields.Nested(EventOut), required=True)


class ErrorOut(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)


class ValidationErrorOut(Schema):
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
