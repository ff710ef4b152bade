"""The register extract as JSON: every key always present (null when not known), dates as
ISO 8601 with their offset."""

from marshmallow import Schema, fields


class ControllerOut(Schema):
    name = fields.String()
    orgnr = fields.String()
    website = fields.String()
    email = fields.String()
    phone = fields.String()
    visiting_address = fields.String()
    privacy_notice_url = fields.String()


class CaseOut(Schema):
    reference = fields.String()
    service = fields.String()
    service_title = fields.String()
    service_version = fields.Integer()
    source = fields.String()
    status = fields.String()
    status_label = fields.String()
    submitted_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)
    thinned_at = fields.AwareDateTime(allow_none=True)
    # sv or en: what mails about the case are written in; null: not recorded (before 0012).
    language = fields.String(allow_none=True)
    # Sent by someone signed in with e-ID: the case is linked to them (Mina ärenden).
    linked_to_e_id = fields.Boolean()


class RetentionOut(Schema):
    months = fields.Integer(allow_none=True)
    set_for = fields.String(allow_none=True)
    description = fields.String()
    thinned_from = fields.AwareDateTime(allow_none=True)


class RowOut(Schema):
    name = fields.String()
    label = fields.String()
    value = fields.String(allow_none=True)  # None: withheld from the status link


class StepOut(Schema):
    title = fields.String()
    rows = fields.List(fields.Nested(RowOut))


class AttachmentOut(Schema):
    field = fields.String()
    label = fields.String()
    filename = fields.String(allow_none=True)
    content_type = fields.String()
    size = fields.Integer()
    received_at = fields.AwareDateTime()


class EventOut(Schema):
    at = fields.AwareDateTime()
    what = fields.String()
    status = fields.String()
    status_label = fields.String()
    message = fields.String(allow_none=True)
    internal = fields.Boolean()


class EmailOut(Schema):
    """An e-mail about the case: who it went to (art. 15(1)(c), its recipients), when,
    about what, and whether it has left."""

    at = fields.AwareDateTime()
    to = fields.String(allow_none=True)  # None: withheld from the status link
    subject = fields.String()
    sent = fields.Boolean()
    sent_at = fields.AwareDateTime(allow_none=True)


class ExtractSchema(Schema):
    document = fields.String()
    made_at = fields.AwareDateTime()
    made_for = fields.String()
    controller = fields.Nested(ControllerOut)
    case = fields.Nested(CaseOut)
    purpose = fields.String()
    legal_basis = fields.String()
    retention = fields.Nested(RetentionOut)
    answers_shown = fields.Boolean()
    answers = fields.List(fields.Nested(StepOut))
    attachments = fields.List(fields.Nested(AttachmentOut))
    history = fields.List(fields.Nested(EventOut))
    e_mails = fields.List(fields.Nested(EmailOut))
    rights = fields.String()
