"""Thin JSON routes. Input is checked by the form engine's marshmallow schema."""

import json
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request, url_for

from samverkan.access import public
from samverkan.api import schemas
from samverkan.api.openapi import openapi_document
from samverkan.cases import operations, status
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import TenantService
from samverkan.catalogue.queries import enabled_services, form_for, get_enabled_service_or_404
from samverkan.errors import error_response
from samverkan.extensions import db
from samverkan.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_of_tag
from samverkan.identity.prefill import needs_sign_in
from samverkan.retention.queries import find_thinned_by_token
from samverkan.submission_limits import limited
from samverkan.tenancy.queries import active_members

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_KEY_LENGTH = 200


class _NotJson(ValueError):
    """Valid to Python's parser, not to RFC 8259 or to us: said as it is."""


def _refuse_constant(name: str):
    raise _NotJson(f"{name} är inte tillåtet i JSON")


def _refuse_repeated_names(pairs: list) -> dict:
    """An object naming a field twice: which answer was meant is the client's to say
    (Python keeps the last; another reader the first)."""
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise _NotJson(f"fältet {json.dumps(name, ensure_ascii=False)} finns två gånger")
    return dict(pairs)


def parse_json_object(data: bytes) -> tuple[dict | None, str | None]:
    """The body as a JSON object, or a message saying what is wrong with it (RFC 8259:
    UTF-8, no NaN or Infinity; text must be whole characters)."""
    try:
        body = json.loads(
            data.decode("utf-8"),
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_repeated_names,
        )
    except UnicodeDecodeError:
        return None, "Kroppen är inte giltig UTF-8."
    except RecursionError:
        return None, "Kroppen är för djupt nästlad."
    except json.JSONDecodeError as exc:
        return None, f"Kroppen är inte giltig JSON (rad {exc.lineno}, kolumn {exc.colno})."
    except _NotJson as exc:
        return None, f"Kroppen är inte giltig JSON: {exc}."
    except ValueError:  # Python's own limit on an integer's digits (4 300)
        return None, "Kroppen innehåller ett tal med för många siffror."
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
    key = request.headers.get("Idempotency-Key")
    well_formed = key is not None and 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()
    # A retry of a case registered already answers with that case, also when the e-service
    # has since changed version or been switched off: a client that got no answer the
    # first time must not be led to send it again under a new key.
    earlier = operations.find_by_idempotency_key(db.session, f"api:{key}") if well_formed else None
    tenant_service = None if earlier else get_enabled_service_or_404(service)
    if not request.is_json:
        return error_response(415)
    body, problem = parse_json_object(request.get_data())
    if problem:
        return error_response(400, problem)
    if key is not None and not well_formed:
        return error_response(400, f"Idempotency-Key ska vara 1–{MAX_KEY_LENGTH} skrivbara tecken.")
    tag = request.headers.get("Content-Language")
    language = DEFAULT_LANGUAGE if tag is None else language_of_tag(tag)
    if language is None:
        return error_response(400, _LANGUAGE_REFUSED)
    if earlier is not None:
        return _replayed(earlier, service, body)
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
            language=language,
        )
    except operations.IdempotencyConflict:
        db.session.rollback()
        return _key_used_otherwise()
    except operations.ServiceClosed:
        db.session.rollback()
        return error_response(
            409, "E-tjänsten tar inte emot ärenden just nu. Hämta listan över e-tjänster igen."
        )
    db.session.commit()
    return _created(submission.case, replayed=not submission.created)


_LANGUAGE_REFUSED = (
    f"Content-Language ska vara {' eller '.join(LANGUAGES)}: det språk som kvittot och "
    "meddelandena om ärendet skrivs på."
)


def _key_used_otherwise():
    return error_response(
        409, "Samma Idempotency-Key har redan använts med andra svar. Använd en ny nyckel."
    )


def _replayed(earlier, service: str, body: dict):
    """The earlier case, if `body` is what registered it: read by the version it was
    registered under, not whatever the e-service is now, and compared answer for answer
    (the fingerprint) with what was registered."""
    settings = db.session.scalar(
        sa.select(TenantService.settings).where(TenantService.service_slug == earlier.service_slug)
    )
    content = earlier.definition.content
    form = ServiceForm(content, _choosable(content, settings or {}, body))
    result = form.validate_all(body)
    if result.scanner_unavailable:
        return (
            jsonify({"message": "Filerna kunde inte kontrolleras just nu."}),
            503,
            {"Retry-After": "60"},
        )
    same = (
        earlier.service_slug == service
        and result.ok
        and operations.answers_fingerprint(form, result.answers) == earlier.request_fingerprint
    )
    return _created(earlier, replayed=True) if same else _key_used_otherwise()


def _choosable(content: dict, settings: dict, body: dict) -> dict:
    """The member's settings with what `body` chose from a member's list added to that
    list: the list may have changed since (an area renamed), and what decides a replay is
    the fingerprint, not today's choices."""
    settings = dict(settings)
    for spec in (f for step in content["steps"] for f in step["fields"]):
        listed, sent = spec.get("options_setting"), body.get(spec["name"])
        if listed and sent is not None:
            chosen = sent if isinstance(sent, list) else [sent]
            settings[listed] = [
                *settings.get(listed, []),
                *(v for v in chosen if isinstance(v, str)),
            ]
    return settings


def _created(case, *, replayed: bool):
    status_url = url_for(".case_status", token=case.status_token, _external=True)
    response = jsonify(
        schemas.SubmissionCreatedOut().dump(
            {"reference": case.reference, "status": case.status, "status_url": status_url}
        )
    )
    response.status_code = 201
    response.headers["Location"] = status_url
    response.headers["Cache-Control"] = "no-store"  # the status link is the case's key
    if replayed:
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
