"""API v1: the OpenAPI document tells the truth about every endpoint."""

import re
from contextlib import contextmanager

import sqlalchemy as sa
from api_support import (
    ANONYMOUS,
    FELANMALAN,
    FORSKOLEPLATS,
    all_refs,
    api_routes,
    as_upload,
    assert_documented,
    resolve,
    schema_errors,
    submissions,
    tiny_png,
)
from test_staff_api import ANNA, EVA, bearer, cases_url, staff_accounts, token_of

from samverkan import memo
from samverkan.database_roles import maintenance_session


@contextmanager
def member_left(app, slug: str):
    """The member offboarded by the hub for a while (its e-services closed, cases read-only)."""

    def status(value: str) -> None:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.text("UPDATE tenants SET status = :s WHERE slug = :slug"),
                {"s": value, "slug": slug},
            )
            session.commit()
        memo.forget_all()  # a worker's copy of the member, changed around the app

    status("closed")
    try:
        yield
    finally:
        status("active")


# -- the OpenAPI document ------------------------------------------------------------------


def test_openapi_document_is_openapi_3_with_well_formed_operations(openapi):
    assert re.fullmatch(r"3\.0\.\d+", openapi["openapi"])
    assert openapi["info"]["title"] and openapi["info"]["version"]
    for path, item in openapi["paths"].items():
        assert path.startswith("/api/v1/")
        path_params = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "put", "post", "delete", "patch", "head", "options"}
            assert operation["responses"], f"{method} {path} documents no response"
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status)
                assert response["description"]
            params = path_params | {
                p["name"] for p in operation.get("parameters", []) if p["in"] == "path"
            }
            assert params == set(re.findall(r"{(\w+)}", path)), f"{method} {path}"
        for parameter in item.get("parameters", []):
            assert parameter["in"] in {"path", "query", "header", "cookie"}
            if parameter["in"] == "path":
                assert parameter["required"] is True
            assert "schema" in parameter


def test_every_ref_in_the_openapi_document_resolves(openapi):
    refs = all_refs(openapi)
    assert refs, "the document uses no $ref at all"
    for ref in refs:
        assert isinstance(resolve(openapi, ref), dict), ref
    assert {ref.rsplit("/", 1)[1] for ref in refs} >= {"Tenant", "Error", "ValidationError"}


def test_every_api_route_is_documented_with_its_method(app, openapi):
    served = api_routes(app)
    documented = {
        (path, method)
        for path, item in openapi["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented


def test_the_openapi_document_describes_its_own_route(openapi):
    assert "/api/v1/openapi.json" in openapi["paths"]


def test_every_documented_property_has_a_type(openapi):
    untyped = [
        f"{name}.{prop}"
        for name, schema in openapi["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if "type" not in spec and "$ref" not in spec
    ]
    assert untyped == []


def test_the_contract_check_catches_a_body_that_breaks_the_schema(openapi):
    """Guard for the validator itself: the checks below must be able to fail."""
    error = {"$ref": "#/components/schemas/Error"}
    assert schema_errors({"error": "x", "message": "y"}, error, openapi) == []
    assert schema_errors({"error": "x"}, error, openapi) == ["$: 'message' is missing"]
    assert schema_errors({"error": 1, "message": "y"}, error, openapi) == [
        "$.error: 1 is not of type string"
    ]
    assert schema_errors({"error": "x", "message": "y", "z": 0}, error, openapi) == [
        "$.z: not a documented property"
    ]
    event = {"$ref": "#/components/schemas/EventOut"}
    body = {"at": "yesterday", "kind": "k", "status": "s", "message": None}
    assert schema_errors(body, event, openapi) == ["$.at: 'yesterday' is not a date-time"]


def test_every_get_endpoint_answers_as_documented(app, client, openapi):
    assert_documented(openapi, "/api/v1/tenants", "get", client.get("/api/v1/tenants"))
    services_path = "/api/v1/tenants/{tenant}/services"
    services = client.get("/api/v1/tenants/arvika/services")
    assert_documented(openapi, services_path, "get", services)
    assert_documented(openapi, services_path, "get", client.get("/api/v1/tenants/nowhere/services"))
    definition_path = "/api/v1/tenants/{tenant}/services/{service}"
    for service in services.get_json():
        response = client.get(f"/api/v1/tenants/arvika/services/{service['slug']}")
        assert_documented(openapi, definition_path, "get", response)
    missing = client.get("/api/v1/tenants/arvika/services/bygglov")
    assert_documented(openapi, definition_path, "get", missing)
    with member_left(app, "munkfors"):
        for path, url in (
            (services_path, "/api/v1/tenants/munkfors/services"),
            (definition_path, "/api/v1/tenants/munkfors/services/synpunkter"),
        ):
            gone = client.get(url)
            assert gone.status_code == 410
            assert_documented(openapi, path, "get", gone)
    status_path = "/api/v1/tenants/{tenant}/status/{token}"
    created = client.post(submissions("arvika", "felanmalan"), json=FELANMALAN).get_json()
    assert_documented(openapi, status_path, "get", client.get(created["status_url"]))
    assert_documented(openapi, status_path, "get", client.get("/api/v1/tenants/arvika/cases/x"))


def test_every_submission_outcome_answers_as_documented(
    app, client, openapi, monkeypatch, tmp_path
):
    path = "/api/v1/tenants/{tenant}/services/{service}/submissions"
    url = submissions("arvika", "synpunkter")
    key = {"Idempotency-Key": "contract"}
    photo = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}

    def unscanned():  # a scanner is configured, but nothing answers at its socket
        with monkeypatch.context() as patch:
            patch.setitem(app.config, "CLAMD_SOCKET", str(tmp_path / "clamd.ctl"))
            return client.post(submissions("arvika", "felanmalan"), json=photo)

    def over_the_limit():
        with monkeypatch.context() as patch:
            patch.setitem(app.config, "SUBMISSIONS_PER_ADDRESS", "1 per minute")
            client.post(url, json=ANONYMOUS, environ_base={"REMOTE_ADDR": "192.0.2.9"})
            return client.post(url, json=ANONYMOUS, environ_base={"REMOTE_ADDR": "192.0.2.9"})

    def at_a_member_that_left():
        with member_left(app, "arvika"):
            return client.post(url, json=ANONYMOUS)

    outcomes = {
        201: client.post(url, json=ANONYMOUS, headers=key),
        400: client.post(url, json=[ANONYMOUS]),
        403: client.post(submissions("arvika", "registerutdrag"), json={"areas": ["alla"]}),
        404: client.post(submissions("arvika", "bygglov"), json=ANONYMOUS),
        409: client.post(url, json={**ANONYMOUS, "kind": "berom"}, headers=key),
        410: at_a_member_that_left(),
        413: client.post(
            url, data=b" " * (app.config["MAX_CONTENT_LENGTH"] + 1), content_type="application/json"
        ),
        415: client.post(url, data=ANONYMOUS),
        422: client.post(url, json={"message": "<b>hej</b>", "extra": 1}),
        429: over_the_limit(),
        503: unscanned(),
    }
    for status, response in outcomes.items():
        assert response.status_code == status
        assert_documented(openapi, path, "post", response)
        documented_headers = openapi["paths"][path]["post"]["responses"][str(status)].get(
            "headers", {}
        )
        conditional = {"Idempotent-Replayed"}  # only on a replay: below
        assert set(documented_headers) - conditional <= set(response.headers.keys()), status
    assert set(openapi["paths"][path]["post"]["responses"]) == {str(s) for s in outcomes}
    replay = client.post(url, json=ANONYMOUS, headers=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert_documented(openapi, path, "post", replay)


def test_field_schemas_in_a_definition_accept_a_valid_submission(client, openapi):
    """What the definition tells a client to send is what the API then accepts."""
    definition = client.get("/api/v1/tenants/arvika/services/forskoleplats").get_json()
    schemas = {f["name"]: f["schema"] for step in definition["steps"] for f in step["fields"]}
    for name, value in FORSKOLEPLATS.items():
        assert schema_errors(value, schemas[name], openapi) == [], name
    assert schema_errors(31, schemas["hours_per_week"], openapi) == []
    assert schema_errors(61, schemas["hours_per_week"], openapi) == ["$: above 60"]
    photo = as_upload("a.png", tiny_png())
    felanmalan = client.get("/api/v1/tenants/arvika/services/felanmalan").get_json()
    [photo_schema] = [
        f["schema"] for step in felanmalan["steps"] for f in step["fields"] if f["name"] == "photo"
    ]
    assert schema_errors(photo, photo_schema, openapi) == []
    assert (
        client.post(submissions("arvika", "forskoleplats"), json=FORSKOLEPLATS).status_code == 201
    )


def test_openapi_document_is_the_same_on_every_request(client):
    first = client.get("/api/v1/openapi.json")
    assert first.mimetype == "application/json"
    assert client.get("/api/v1/openapi.json").get_json() == first.get_json()


def test_every_staff_api_outcome_answers_as_documented(app, client, openapi):
    staff_accounts(app)
    anna, eva = bearer(token_of(app, ANNA)), bearer(token_of(app, EVA, tenant="eda"))
    reference = client.post(submissions("arvika", "felanmalan"), json=FELANMALAN).get_json()[
        "reference"
    ]
    case_url = f"{cases_url()}/{reference}"

    def left_and_moved():
        with member_left(app, "arvika"):
            return client.post(case_url + "/transitions", json={"status": "closed"}, headers=anna)

    outcomes = {
        ("/api/v1/tenants/{tenant}/cases", "get"): {
            200: client.get(cases_url() + "?limit=1", headers=anna),
            401: client.get(cases_url()),
            404: client.get(cases_url(), headers=eva),
            422: client.get(cases_url() + "?status=borta", headers=anna),
        },
        ("/api/v1/tenants/{tenant}/cases/{reference}", "get"): {
            200: client.get(case_url, headers=anna),
            401: client.get(case_url),
            404: client.get(case_url, headers=eva),
        },
        ("/api/v1/tenants/{tenant}/cases/{reference}/transitions", "post"): {
            400: client.post(case_url + "/transitions", json=[], headers=anna),
            401: client.post(case_url + "/transitions", json={"status": "closed"}),
            404: client.post(case_url + "/transitions", json={"status": "closed"}, headers=eva),
            415: client.post(case_url + "/transitions", data="status=closed", headers=anna),
            422: client.post(case_url + "/transitions", json={"status": "x"}, headers=anna),
            200: client.post(
                case_url + "/transitions",
                json={"status": "in_progress", "message": "Vi tittar på det."},
                headers=anna,
            ),
            409: left_and_moved(),
        },
    }
    for (path, method), responses in outcomes.items():
        operation = openapi["paths"][path][method]
        assert operation["security"] == [{"staffToken": []}]
        for status, response in responses.items():
            assert response.status_code == status, (path, status, response.get_json())
            assert_documented(openapi, path, method, response)
        assert set(operation["responses"]) == {str(s) for s in responses}
    assert openapi["components"]["securitySchemes"]["staffToken"]["scheme"] == "bearer"
