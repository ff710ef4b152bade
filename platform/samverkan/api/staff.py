"""The staff JSON API: a member's cases for its own staff, with per-user tokens.

Every route is guarded by `staff_token`: a token answers only at the member it was made
for; anything else is the same 404 as an unknown case. Inputs are checked by marshmallow
(the inbox's own filter schema, TransitionIn); errors use the citizen API's envelope.
"""

from flask import Blueprint, abort, g, jsonify, request
from flask_login import current_user
from marshmallow import ValidationError

from samverkan.access import staff_token
from samverkan.api.staff_schemas import CasePageOut, StaffCaseOut, TransitionIn
from samverkan.api.views import parse_json_object
from samverkan.audit.operations import record
from samverkan.cases import status
from samverkan.cases.models import Case
from samverkan.casework import operations, queries
from samverkan.casework.downloads import attachment_response
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import localized
from samverkan.errors import error_response
from samverkan.extensions import db

bp = Blueprint("staff_api", __name__, url_prefix="/api/v1")
FILTERS = frozenset(queries.InboxFilterSchema().fields)
UNKNOWN_PARAMETER = "Okänd parameter: filtrera med " + ", ".join(sorted(FILTERS)) + "."


@bp.after_request
def _never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _invalid(errors: dict, message: str):
    return jsonify({"message": message, "errors": errors}), 422


def _case_or_404(reference: str, *, for_update: bool = False) -> Case:
    return queries.find_by_reference(db.session, reference, for_update=for_update) or abort(404)


@bp.get("/tenants/<slug:tenant>/cases")
@staff_token()
def cases():
    errors = {name: [UNKNOWN_PARAMETER] for name in sorted(set(request.args) - FILTERS)}
    filters = {}
    try:
        filters = queries.load_filters(request.args, db.session)
    except ValidationError as exc:
        errors.update({name: list(messages) for name, messages in exc.messages.items()})
    if errors:
        return _invalid(errors, "Några filter behöver rättas.")
    page = queries.inbox_page(db.session, filters, current_user.id)
    body = CasePageOut().dump({"cases": page.cases, "next_cursor": page.next_cursor})
    db.session.commit()  # the token's last use
    return jsonify(body)


@bp.get("/tenants/<slug:tenant>/cases/<reference:reference>")
@staff_token()
def case(reference: str):
    found = _case_or_404(reference)
    record(db.session, "case.viewed", "case", found.reference, {"via": "api"})
    body = _case_body(found)
    db.session.commit()
    return jsonify(body)


@bp.get("/tenants/<slug:tenant>/cases/<reference:reference>/attachments/<int:attachment_id>")
@staff_token()
def attachment(reference: str, attachment_id: int):
    """The file itself (its metadata and checksum are in the case): a records system
    takes the documents with the case."""
    return attachment_response(_case_or_404(reference), attachment_id, via="api")


@bp.post("/tenants/<slug:tenant>/cases/<reference:reference>/transitions")
@staff_token()
def transition(reference: str):
    found = _case_or_404(reference, for_update=True)
    if not request.is_json:
        return error_response(415)
    body, problem = parse_json_object(request.get_data())
    if problem:
        return error_response(400, problem)
    try:
        data = TransitionIn().load(body)
    except ValidationError as exc:
        return _invalid(exc.messages, "Statusändringen behöver rättas.")
    try:
        operations.transition(
            db.session, g.tenant, found, data["status"], data["message"], by=current_user
        )
    except operations.CaseworkError as exc:
        db.session.rollback()
        return _invalid({exc.field: [exc.message]}, "Statusändringen behöver rättas.")
    db.session.commit()
    return jsonify(_case_body(found))


def _case_body(found: Case) -> dict:
    form = ServiceForm(found.definition.content, {})
    return StaffCaseOut().dump(
        {
            "reference": found.reference,
            "service": found.service_slug,
            "service_title": localized(found.definition.content["title"], "sv"),
            "service_version": found.definition.version,
            "channel": found.channel,
            "status": found.status,
            "status_label": status.label(found.status, staff=True),
            "submitted_at": found.submitted_at,
            "updated_at": found.updated_at,
            "closed_at": found.closed_at,
            "unread_completion_at": found.unread_completion_at,
            "assigned_to": found.assigned_to,
            "language": operations.mails.case_language(found),
            "citizen_email": operations.mails.citizen_address(found),
            "answers": _answers(form, found),
            "summary": form.summary(form.from_json(found.answers)),
            "attachments": found.attachments,
            "history": found.events,
            "allowed_next": [
                {"status": s, "label": status.label(s, staff=True)}
                for s in status.allowed_next(found.status)
            ],
        }
    )


def _answers(form: ServiceForm, found: Case) -> dict:
    """The stored answers; a file is shown by what it is, never where it is kept."""
    ids = {name: a.id for name, a in found.answer_files().items()}
    answers = {}
    for name, value in found.answers.items():
        spec = form.fields.get(name)
        if spec is not None and spec["type"] == "file" and isinstance(value, dict):
            file = value.get("file", {})
            value = {
                "attachment_id": ids.get(name),
                **{key: file.get(key) for key in ("filename", "content_type", "size", "sha256")},
            }
        answers[name] = value
    return answers
