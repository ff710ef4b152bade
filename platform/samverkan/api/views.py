"""Thin JSON routes. Input is checked by the form engine's marshmallow schema."""

import json
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request, url_for

from samverkan.access import public
from samverkan.api import schemas
from samverkan.api.openapi import openapi_document
from samverkan.cases import operations, status
from samverkan.catalogue.queries import enabled_services, form_for, get_enabled_service_or_404
from samverkan.errors import error_response
from samverkan.extensions import db
from samverkan.identity.prefill import needs_sign_in
from samverkan.retention.queries import find_thinned_by_token
from samverkan.submission_limits import limited
from samverkan.tenancy.queries import active_members

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_KEY_LENGTH = 200


def _refuse_constant(name: str):
    raise ValueError(f"{name} är inte tillåtet i JSON")


def parse_json_object(data: bytes) -> tuple[dict | None, str | None]:
    """The body as a JSON object, or a message saying what is wrong with it (RFC 8259:
    UTF-8, no NaN or Infinity; text must be whole characters)."""
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        return None, "Kroppen är inte giltig UTF-8."
    except RecursionError:
        return None, "Kroppen är för djupt nästlad."
    except json.JSONDecodeError as exc:
        return None, f"Kroppen är inte giltig JSON (rad {exc.lineno}, kolumn {exc.colno})."
    except ValueError as exc:  # NaN or Infinity, refused by _refuse_constant
        return None, f"Kroppen är inte giltig JSON: {exc}."
    if not isinstance(body, dict):
        return None, "Kroppen ska vara ett JSON-objekt med svaren, fält för fält."
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None, "Kroppen innehåller ett halvt tecken (en ensam surrogat i en \\u-kod)."
    return body, None


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(openapi_document())


@bp.get("/tenants")
@public
def tenants():
    return jsonify(schemas.TenantOut(many=True).dump(active_members()))


@bp.get("/tenants/<slug:tenant>/services")
@public
def services():
    return jsonify(schemas.ServiceOut(many=True).dump(enabled_services()))


@bp.get("/tenants/<slug:tenant>/services/<slug:service>")
@public
def service_definition(service: str):
    form = form_for(get_enabled_service_or_404(service))
    return jsonify(schemas.DefinitionOut().dump(form.describe()))


@bp.post("/tenants/<slug:tenant>/services/<slug:service>/submissions")
@public
@limited
def submit(service: str):
    tenant_service = get_enabled_service_or_404(service)
    if not request.is_json:
        return error_response(415)
    body, problem = parse_json_object(request.get_data())
    if problem:
        return error_response(400, problem)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        return error_response(400, f"Idempotency-Key ska vara 1–{MAX_KEY_LENGTH} skrivbara tecken.")
    form = form_for(tenant_service)
    if needs_sign_in(form):
        # Nobody signs in through the API: who the citizen is would be the client's word.
        return error_response(
            403,
            "E-tjänsten kräver inloggning med e-legitimation och tar bara emot ärenden "
            "genom sitt webbformulär.",
        )
    result = form.validate_all(body)
    if result.scanner_unavailable:
        # Not the client's fault: the same request may succeed in a minute.
        body = {"message": "Filerna kunde inte kontrolleras just nu.", "errors": result.errors}
        return jsonify(body), 503, {"Retry-After": "60"}
    if not result.ok:
        return jsonify({"message": "Några svar behöver rättas.", "errors": result.errors}), 422
    try:
        submission = operations.submit_case(
            db.session,
            g.tenant,
            tenant_service,
            form,
            result.answers,
            channel="api",
            upload_root=Path(current_app.config["UPLOAD_ROOT"]),
            idempotency_key=f"api:{key}" if key else None,
        )
    except operations.IdempotencyConflict:
        db.session.rollback()
        return error_response(
            409, "Samma Idempotency-Key har redan använts med andra svar. Använd en ny nyckel."
        )
    except operations.ServiceClosed:
        db.session.rollback()
        return error_response(
            409, "E-tjänsten tar inte emot ärenden just nu. Hämta listan över e-tjänster igen."
        )
    db.session.commit()
    case = submission.case
    status_url = url_for(".case_status", token=case.status_token, _external=True)
    response = jsonify(
        schemas.SubmissionCreatedOut().dump(
            {"reference": case.reference, "status": case.status, "status_url": status_url}
        )
    )
    response.status_code = 201
    response.headers["Location"] = status_url
    response.headers["Cache-Control"] = "no-store"  # the status link is the case's key
    if not submission.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/tenants/<slug:tenant>/status/<token:token>")
@public
def case_status(token: str):
    case = operations.find_case_by_token(db.session, token)
    if case is None:
        # As the status page: a thinned case's old link says so (410), not a puzzling 404.
        thinned = find_thinned_by_token(db.session, token)
        if thinned is not None:
            return error_response(
                410,
                f"Ärende {thinned.reference} är gallrat: personuppgifterna i det är borttagna "
                "enligt kommunens regler för hur länge uppgifter sparas.",
            )
        return error_response(404, "Det finns inget ärende med den länken.")
    data = {
        "reference": case.reference,
        "service_slug": case.service_slug,
        "service_version": case.definition.version,
        "status": case.status,
        "status_label": status.label(case.status),
        "submitted_at": case.submitted_at,
        "updated_at": case.updated_at,
        "history": [e for e in case.events if e.visible_to_citizen],
    }
    response = jsonify(schemas.CaseStatusOut().dump(data))
    response.headers["Cache-Control"] = "no-store"
    return response
