"""Serving an extract: built, written to the member's audit log, committed, and sent as a
page or as a JSON file, never cached."""

from flask import jsonify, make_response, render_template
from sqlalchemy import orm

from samverkan.audit.operations import record
from samverkan.cases.models import Case
from samverkan.db import utcnow
from samverkan.extracts.content import build
from samverkan.extracts.schemas import ExtractSchema
from samverkan.tenancy.models import Tenant


def extract_response(
    session: orm.Session,
    case: Case,
    tenant: Tenant,
    *,
    audience: str,
    answers_shown: bool,
    as_json: bool,
    template: str,
    actor: str | None = None,
    **context,
):
    """The extract of `case` for `audience`; every one made is logged, with its format."""
    extract = build(case, tenant, audience=audience, answers_shown=answers_shown, now=utcnow())
    record(
        session,
        "case.extract",
        "case",
        case.reference,
        {
            "format": "json" if as_json else "html",
            "for": audience,
            "answers_shown": extract["answers_shown"],
        },
        actor=actor,
    )
    session.commit()
    if as_json:
        response = jsonify(ExtractSchema().dump(extract))
        response.headers["Content-Disposition"] = (
            f'attachment; filename="registerutdrag-{extract["case"]["reference"]}.json"'
        )
    else:
        response = make_response(render_template(template, extract=extract, **context))
    response.headers["Cache-Control"] = "no-store"
    return response
