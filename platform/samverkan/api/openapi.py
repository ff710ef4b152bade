"""The OpenAPI 3 document for /api/v1, built from the same marshmallow schemas the views
dump with (apispec), so the document cannot drift from what is sent."""

from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from samverkan.api import schemas

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


@cache
def openapi_document() -> dict:
    spec = APISpec(
        title="Samverkan public API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Members, their e-services and definitions; submitting a case "
            "and following it. Messages for people are in Swedish."
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
    ):
        spec.components.schema(name, schema=schema)
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
                    }
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
                    "201": _json(
                        "SubmissionCreated", "Registered (or replayed for a repeated key)"
                    ),
                    "400": _error("The body is not a JSON object, or a header is malformed"),
                    "404": NOT_FOUND,
                    "409": _error("The idempotency key was used before with other answers"),
                    "413": _error("The body is too large"),
                    "415": _error("The body is not JSON"),
                    "422": _json("ValidationError", "Answers that need correcting, per field"),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/tenants/{tenant}/cases/{token}",
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
                },
            }
        },
    )
    return spec.to_dict()
