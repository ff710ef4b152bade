"""The OpenAPI 3 document for /api/v1, built from the same marshmallow schemas the views
dump with (apispec), so the document cannot drift from what is sent."""

from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from samverkan.api import hub_schemas, schemas, staff_schemas
from samverkan.cases import status
from samverkan.casework.queries import MAX_PAGE_SIZE, PAGE_SIZE

TENANT = {
    "name": "tenant",
    "in": "path",
    "required": True,
    "description": "The member's slug, e.g. arvika",
    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,39}$"},
}
SERVICE = {
    "name": "service",
    "in": "path",
    "required": True,
    "description": "The e-service's slug, e.g. felanmalan",
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
}


def _json(schema: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(description: str) -> dict:
    return _json("Error", description)


NOT_FOUND = _error("No such member, or the member has not switched this e-service on")
# tenancy/resolve.py: a member that has left the collaboration (offboarded by the hub).
MEMBER_LEFT = _error("The member has left the collaboration: its e-services are closed")
MEMBER_LEFT_READ_ONLY = _error("The member has left the collaboration: its cases can only be read")
_SECONDS = {"description": "Seconds", "schema": {"type": "string"}}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Submissions the limit allows",
        "schema": {"type": "string"},
    },
    "X-RateLimit-Remaining": {"description": "Left in this window", "schema": {"type": "string"}},
    "X-RateLimit-Reset": {
        "description": "When the window ends (Unix time)",
        "schema": {"type": "string"},
    },
}
REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The case's reference at the member, e.g. ARV-2026-000001",
    "schema": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}-[0-9]{6}$"},
}
STAFF_TOKEN = [{"staffToken": []}]
UNAUTHORIZED = {
    **_error("No Authorization: Bearer header was sent"),
    "headers": {
        "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
    },
}
# The same answer whatever the reason, so nobody learns what another member has.
STAFF_NOT_FOUND = _error(
    "No such case at this member, or the token is not valid here (unknown, revoked, "
    "another member's, or its user deactivated or no longer working here)"
)


@cache
def openapi_document() -> dict:
    spec = APISpec(
        title="Samverkan API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Members, their e-services and definitions; submitting a case "
            "and following it (public). A member's cases for its own staff, by API token "
            "(staff). Messages for people are in Swedish."
        },
    )
    for name, schema in (
        ("Tenant", schemas.TenantOut),
        ("Service", schemas.ServiceOut),
        ("Definition", schemas.DefinitionOut),
        ("SubmissionCreated", schemas.SubmissionCreatedOut),
        ("CaseStatus", schemas.CaseStatusOut),
        ("Error", schemas.ErrorOut),
        ("ValidationError", schemas.ValidationErrorOut),
        ("CasePage", staff_schemas.CasePageOut),
        ("StaffCase", staff_schemas.StaffCaseOut),
        ("Transition", staff_schemas.TransitionIn),
        ("AllocationRun", hub_schemas.AllocationRunOut),
    ):
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        "staffToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A staff member's API token for one member (sv_…), made on the "
            "staff page API-nycklar or with `flask users token`",
        },
    )
    spec.path(
        path="/api/v1/openapi.json",
        operations={
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3 description of API v1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants",
        operations={
            "get": {
                "summary": "Every member of the collaboration",
                "responses": {
                    "200": {
                        "description": "Members, by name",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Tenant"},
                                }
                            }
                        },
                    }
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/services",
        parameters=[TENANT],
        operations={
            "get": {
                "summary": "The e-services this member has switched on",
                "responses": {
                    "200": {
                        "description": "E-services, by category",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Service"},
                                }
                            }
                        },
                    },
                    "404": _error("No such member"),
                    "410": MEMBER_LEFT,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/services/{service}",
        parameters=[TENANT, SERVICE],
        operations={
            "get": {
                "summary": "The definition as this member shows it",
                "responses": {
                    "200": _json("Definition", "Steps and fields, with this member's options"),
                    "404": NOT_FOUND,
                    "410": MEMBER_LEFT,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/services/{service}/submissions",
        parameters=[TENANT, SERVICE],
        operations={
            "post": {
                "summary": "Submit answers; the case gets the member's next reference",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Repeat a request with the same key to get the same "
                        "case back instead of a new one",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    {
                        "name": "Content-Language",
                        "in": "header",
                        "required": False,
                        "description": "The language the citizen answered in: the receipt "
                        "and every later e-mail about the case are written in it (sv when "
                        "left out; a region after the language, as en-GB, is accepted)",
                        "schema": {
                            "type": "string",
                            "pattern": "^([sS][vV]|[eE][nN])(-[A-Za-z0-9]{1,8})*$",
                        },
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "description": "Answers by field name, as the definition's "
                                "field schemas describe; files as {filename, content_base64}",
                                "additionalProperties": True,
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_json("SubmissionCreated", "Registered (or replayed for a repeated key)"),
                        "headers": {
                            "Location": {
                                "description": "The case's status URL (as status_url)",
                                "schema": {"type": "string", "format": "uri"},
                            },
                            "Idempotent-Replayed": {
                                "description": "'true' when the Idempotency-Key named a case "
                                "registered before: that case is the answer, nothing new",
                                "schema": {"type": "string", "enum": ["true"]},
                            },
                            **RATE_LIMIT_HEADERS,
                        },
                    },
                    "400": _error(
                        "The body is not a JSON object, or a header is malformed (an "
                        "Idempotency-Key too long, a Content-Language not offered)"
                    ),
                    "403": _error(
                        "The e-service needs the citizen to sign in with e-ID "
                        "(login_required): it takes cases only through its web form"
                    ),
                    "404": NOT_FOUND,
                    "409": _error(
                        "The idempotency key was used before with other answers, or the"
                        " e-service stopped taking cases while the request was under way"
                    ),
                    "410": MEMBER_LEFT,
                    "413": _error("The body is too large"),
                    "415": _error("The body is not JSON"),
                    "422": _json("ValidationError", "Answers that need correcting, per field"),
                    "429": {
                        **_error(
                            "Too many submissions from this address or to this member. Every "
                            "attempt counts, refused ones (4xx) too: a flood of invalid "
                            "bodies is stopped like one of valid ones"
                        ),
                        "headers": {"Retry-After": _SECONDS, **RATE_LIMIT_HEADERS},
                    },
                    "503": {
                        **_json(
                            "ValidationError",
                            "A file could not be scanned for malware just now (the scanner "
                            "did not answer); nothing was stored: send the same request again",
                        ),
                        "headers": {
                            "Retry-After": {"description": "Seconds", "schema": {"type": "string"}}
                        },
                    },
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/status/{token}",
        parameters=[
            TENANT,
            {
                "name": "token",
                "in": "path",
                "required": True,
                "description": "The private token from status_url",
                "schema": {"type": "string"},
            },
        ],
        operations={
            "get": {
                "summary": "A case's status and history (the citizen's private link)",
                "responses": {
                    "200": _json("CaseStatus", "Status and history"),
                    "404": _error("No such case"),
                    "410": _error(
                        "The case was thinned under the member's retention rules: its "
                        "personal data is gone, and the link no longer opens it; or the "
                        "member has left the collaboration"
                    ),
                },
            }
        },
    )
    _staff_paths(spec)
    _hub_paths(spec)
    return spec.to_dict()


def _query(name: str, description: str, schema: dict) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _staff_paths(spec: APISpec) -> None:
    """The staff API: a member's cases for its own staff, by API token."""
    date = {"type": "string", "format": "date"}
    spec.path(
        path="/api/v1/tenants/{tenant}/cases",
        parameters=[TENANT],
        operations={
            "get": {
                "summary": "The member's cases, newest first, a page at a time (staff)",
                "security": STAFF_TOKEN,
                "parameters": [
                    _query(
                        "status",
                        "Only cases with this status",
                        {"type": "string", "enum": list(status.ALL)},
                    ),
                    _query(
                        "service",
                        "Only cases of this e-service (slug)",
                        {"type": "string", "pattern": "^[a-z0-9-]{1,60}$"},
                    ),
                    _query("submitted_from", "Submitted on or after this day (Swedish time)", date),
                    _query("submitted_to", "Submitted on or before this day (Swedish time)", date),
                    _query(
                        "assigned",
                        "me: assigned to the token's user; nobody: unassigned",
                        {"type": "string", "enum": ["me", "nobody"]},
                    ),
                    _query(
                        "news",
                        "completion: only cases whose citizen has answered and nobody has "
                        "opened since (unread_completion_at set)",
                        {"type": "string", "enum": ["completion"]},
                    ),
                    _query("cursor", "next_cursor from the previous page", {"type": "string"}),
                    _query(
                        "limit",
                        "Cases per page",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PAGE_SIZE,
                            "default": PAGE_SIZE,
                        },
                    ),
                ],
                "responses": {
                    "200": _json("CasePage", "One page of cases and the cursor to the next"),
                    "401": UNAUTHORIZED,
                    "404": STAFF_NOT_FOUND,
                    "422": _json("ValidationError", "Filters that need correcting, per name"),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/cases/{reference}",
        parameters=[TENANT, REFERENCE],
        operations={
            "get": {
                "summary": "A case with every answer, its attachments and full history (staff)",
                "description": "Recorded in the member's audit log as a view.",
                "security": STAFF_TOKEN,
                "responses": {
                    "200": _json("StaffCase", "The case as staff see it"),
                    "401": UNAUTHORIZED,
                    "404": STAFF_NOT_FOUND,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/cases/{reference}/attachments/{attachment_id}",
        parameters=[
            TENANT,
            REFERENCE,
            {
                "name": "attachment_id",
                "in": "path",
                "required": True,
                "description": "The attachment's id, as the case lists it in attachments",
                "schema": {"type": "integer", "minimum": 1},
            },
        ],
        operations={
            "get": {
                "summary": "One of the case's files, as it was received (staff)",
                "description": "Always as a file to save (application/octet-stream), "
                "under the name the citizen gave it but ending as its content is (a PDF sent "
                "as intyg.html is saved as intyg.pdf); its type, size and SHA-256 are in "
                "the case's attachments. Recorded in the member's audit log as a download.",
                "security": STAFF_TOKEN,
                "responses": {
                    "200": {
                        "description": "The file's bytes",
                        "headers": {
                            "Content-Disposition": {
                                "description": "attachment, with the file's name",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "401": UNAUTHORIZED,
                    "404": _error(
                        "No such file in this case (or its file is gone, after thinning), "
                        "or as for the case itself"
                    ),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/cases/{reference}/transitions",
        parameters=[TENANT, REFERENCE],
        operations={
            "post": {
                "summary": "Move the case on in the workflow, with a message to the citizen",
                "description": "The message shows on the citizen's status page and is "
                "e-mailed if they left an address. Allowed moves are in allowed_next.",
                "security": STAFF_TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Transition"}}
                    },
                },
                "responses": {
                    "200": _json("StaffCase", "Done: the case in its new state"),
                    "400": _error("The body is not a JSON object"),
                    "401": UNAUTHORIZED,
                    "404": STAFF_NOT_FOUND,
                    "409": MEMBER_LEFT_READ_ONLY,
                    "415": _error("The body is not JSON"),
                    "422": _json(
                        "ValidationError", "A field to correct, or a move the workflow refuses"
                    ),
                },
            }
        },
    )


def _hub_paths(spec: APISpec) -> None:
    """The hub's API: the collaboration's cost allocation, by a hub administrator's token."""
    spec.components.security_scheme(
        "hubToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A hub administrator's API token made at the hub member (sv_…), "
            "with `flask users token --tenant karlstad EMAIL`",
        },
    )
    spec.path(
        path="/api/v1/hub/allocations/{period}",
        parameters=[
            {
                "name": "period",
                "in": "path",
                "required": True,
                "description": "A year (2026) or a month (2026-03)",
                "schema": {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2})?$"},
            }
        ],
        operations={
            "get": {
                "summary": "The latest allocation run of the period (hub)",
                "description": "Every pool with its key and each member's exact share "
                "(numerator/denominator) and amount in öre; each pool's shares sum to its "
                "amount. A run never changes once stored.",
                "security": [{"hubToken": []}],
                "responses": {
                    "200": _json("AllocationRun", "The period's latest run"),
                    "401": UNAUTHORIZED,
                    "404": _error(
                        "No run for the period yet, or the token is not a hub "
                        "administrator's at the hub (another member's, a case worker's, "
                        "revoked, unknown)"
                    ),
                    "422": _json("ValidationError", "The period is neither a year nor a month"),
                },
            }
        },
    )
