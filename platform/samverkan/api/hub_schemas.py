"""What the hub's API sends: marshmallow schemas that are also the OpenAPI components."""

from marshmallow import Schema, fields

from samverkan.costs.models import CATEGORIES, KEYS


class AllocationKeyOut(Schema):
    kind = fields.String(required=True, metadata={"enum": list(KEYS)})
    label = fields.String(required=True, metadata={"description": "The key in Swedish words"})
    equal_percent = fields.String(
        required=True, allow_none=True, metadata={"description": "hybrid: the part split equally"}
    )
    rest = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "hybrid: population or usage for the rest"},
    )
    population_year = fields.Integer(required=True, allow_none=True)
    service = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "usage: the e-service counted; null for every e-service"},
    )
    pro_rata = fields.Boolean(required=True)


class AllocationShareOut(Schema):
    member = fields.String(required=True, metadata={"description": "The member's slug"})
    name = fields.String(required=True)
    numerator = fields.Integer(required=True)
    denominator = fields.Integer(
        required=True, metadata={"description": "The exact share is numerator/denominator"}
    )
    amount_ore = fields.Integer(required=True)


class AllocationPoolOut(Schema):
    id = fields.Integer(required=True, metadata={"description": "The pool's id when run"})
    name = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": list(CATEGORIES)})
    amount_ore = fields.Integer(required=True)
    key = fields.Nested(AllocationKeyOut, required=True)
    shares = fields.List(
        fields.Nested(AllocationShareOut),
        required=True,
        metadata={"description": "They sum exactly to amount_ore"},
    )


class MemberTotalOut(Schema):
    member = fields.String(required=True)
    name = fields.String(required=True)
    total_ore = fields.Integer(required=True)


class AllocationRunOut(Schema):
    run = fields.Integer(required=True, metadata={"description": "The run's id"})
    period = fields.String(required=True, metadata={"description": "2026, or 2026-03"})
    created_at = fields.DateTime(required=True)
    created_by = fields.String(required=True)
    checksum = fields.String(
        required=True, metadata={"description": "SHA-256 of the run's stored inputs"}
    )
    pools_changed = fields.Boolean(
        required=True,
        metadata={
            "description": "True when the period's pools have been added, removed or saved "
            "since this run: it no longer matches them, and the hub should run it again"
        },
    )
    pools = fields.List(fields.Nested(AllocationPoolOut), required=True)
    members = fields.List(fields.Nested(MemberTotalOut), required=True)
