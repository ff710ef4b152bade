"""What the staff API reads and sends: marshmallow schemas that are also the OpenAPI
components (see openapi.py)."""

from marshmallow import RAISE, Schema, fields, validate

from samverkan.cases import status
from samverkan.casework.operations import MESSAGE_MAX, MESSAGE_TOO_LONG
from samverkan.casework.schemas import printable

UNKNOWN_FIELD = "Okänt fält: skicka bara status och message."
# For the document: the statuses a client can expect.
STATUS = {"enum": list(status.ALL)}


class Person(fields.Field):
    """A staff member as {id, name}, or null. Described by hand for OpenAPI 3.0, which
    has no tidy way to say "this object, or null" with a $ref."""

    def __init__(self, **kwargs):
        super().__init__(
            allow_none=True,
            metadata={
                "type": "object",
                "nullable": True,
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                "required": ["id", "name"],
                "additionalProperties": False,
            },
            **kwargs,
        )

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else {"id": value.id, "name": value.name}


def unread_completion() -> fields.DateTime:
    return fields.DateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "When the citizen answered a request for more and no case worker "
            "has opened the case (on the web) or moved it on since; else null"
        },
    )


class CaseSummaryOut(Schema):
    reference = fields.String(required=True)
    service = fields.String(required=True, attribute="service_slug")
    status = fields.String(required=True, metadata=STATUS)
    status_label = fields.Function(
        lambda case: status.label(case.status, staff=True),
        required=True,
        metadata={"type": "string"},
    )
    submitted_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    unread_completion_at = unread_completion()
    assigned_to = Person(required=True)


class CasePageOut(Schema):
    cases = fields.List(fields.Nested(CaseSummaryOut), required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as ?cursor= for the next (older) page; null on the last"},
    )


class SummaryRowOut(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.String(required=True)


class SummaryStepOut(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    rows = fields.List(fields.Nested(SummaryRowOut), required=True)


class AttachmentOut(Schema):
    id = fields.Integer(
        required=True,
        metadata={"description": "The file itself: GET …/cases/{reference}/attachments/{id}"},
    )
    field = fields.String(
        required=True,
        attribute="field_name",
        metadata={
            "description": "The form's file field it answers, or `completion` for a file the "
            "citizen sent later with a completion (see `received_at` and the history)"
        },
    )
    filename = fields.String(
        required=True,
        metadata={
            "description": "As the citizen named it; the download ends as its content is "
            "(content_type)"
        },
    )
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    received_at = fields.DateTime(
        required=True,
        attribute="created_at",
        metadata={
            "description": "With the case, or (field completion) with the history entry of "
            "the same moment"
        },
    )


class StaffEventOut(Schema):
    at = fields.DateTime(required=True, attribute="created_at")
    kind = fields.String(
        required=True,
        metadata={
            "description": "submitted, status_changed, message (to the citizen, the status "
            "unchanged), completion (the citizen's answer to waiting_for_citizen), assigned "
            "or note"
        },
    )
    status = fields.String(required=True, metadata=STATUS)
    message = fields.String(allow_none=True)
    visible_to_citizen = fields.Boolean(
        required=True, metadata={"description": "False for internal notes and assignments"}
    )
    author = Person(required=True)


class StatusOut(Schema):
    status = fields.String(required=True, metadata=STATUS)
    label = fields.String(required=True)


class StaffCaseOut(Schema):
    reference = fields.String(required=True)
    service = fields.String(required=True)
    service_title = fields.String(required=True)
    service_version = fields.Integer(required=True)
    channel = fields.String(
        required=True,
        metadata={"description": "web, api or assisted (registered by the contact centre)"},
    )
    status = fields.String(required=True, metadata=STATUS)
    status_label = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    unread_completion_at = unread_completion()
    assigned_to = Person(required=True)
    language = fields.String(
        required=True,
        metadata={
            "description": "sv or en: the citizen's language, that e-mail about the case is "
            "written in (a message goes as the case worker wrote it)"
        },
    )
    citizen_email = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Where messages go by e-mail; null: the status page only"},
    )
    answers = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={
            "description": "The answers by field name, as the citizen gave them (the JSON "
            "the submission API takes); a file is described by its attachment's metadata"
        },
    )
    summary = fields.List(
        fields.Nested(SummaryStepOut),
        required=True,
        metadata={"description": "The shown answers per step, as a person reads them"},
    )
    attachments = fields.List(fields.Nested(AttachmentOut), required=True)
    history = fields.List(
        fields.Nested(StaffEventOut),
        required=True,
        metadata={"description": "Oldest first, internal notes included"},
    )
    allowed_next = fields.List(fields.Nested(StatusOut), required=True)


class TransitionIn(Schema):
    """A move in the workflow, with an optional message to the citizen; the case's own
    status (not closed) with a message writes to the citizen without moving it."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": UNKNOWN_FIELD}

    status = fields.String(
        required=True,
        validate=validate.OneOf(
            status.ALL, error="Okänd status: välj en av " + ", ".join(status.ALL) + "."
        ),
        error_messages={
            "required": "Ange den nya statusen.",
            "null": "Ange den nya statusen.",
            "invalid": "Statusen ska vara text.",
        },
    )
    message = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=MESSAGE_MAX, error=MESSAGE_TOO_LONG), printable],
        error_messages={"invalid": "Meddelandet ska vara text."},
        metadata={
            "description": "Shown on the citizen's status page (and e-mailed, if they "
            "left an address); required when waiting_for_citizen"
        },
    )
