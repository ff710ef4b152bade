"""schemathesis against /api/v1/openapi.json, in-process through the WSGI app: for every
operation (public, staff and hub), generated requests — valid and deliberately invalid —
never get a 5xx, and every answer matches the document (status documented, content type,
body schema, documented headers).

Generated path values alone would almost never name a real member, case or run, so a
drawn share of them is steered to ones that exist (and a drawn token is sent), which
takes the fuzzing past the 404 into the code behind it. Deterministic: derandomised
Hypothesis, so CI sees the same requests every run.
"""

import json
from functools import cached_property

import pytest
import schemathesis
import sqlalchemy as sa
from api_support import ANONYMOUS, FELANMALAN, as_upload, tiny_png
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_accounts import create
from test_hub_costs import NAVET, a_run, navet, period  # noqa: F401 - fixtures World asks for
from test_staff_api import ANNA, submit, token_of

from samverkan.api.openapi import openapi_document
from samverkan.database_roles import maintenance_session

# No 5xx, and the answer is the documented one. Left out: positive_data_acceptance (the
# submission body is "any object" in the document, since what a service accepts is in
# its own definition, so a schema-valid body is rightly refused 422) and the stateful,
# auth and resource checks, which need links the document does not declare.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 30

# The document the app serves, loaded when the module is (schemathesis' lazy fixture
# loader does not work with pytest 9); the first test checks it is what is served.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi_document())))


def test_the_fuzzed_document_is_the_one_served(client):
    assert client.get("/api/v1/openapi.json").get_json() == schema.raw_schema


KEEP = object()  # leave the generated value as it is
BOGUS = "Bearer sv_not-a-real-token"
ANSWERS = {"synpunkter": ANONYMOUS, "felanmalan": FELANMALAN}


class World:
    """What exists for the fuzzer to find, made the first time an operation asks for it
    (each operation is a test of its own, so nothing is made that it would not use):
    cases at Arvika (one with a photo, which is fetched too), a case worker's token there,
    and a hub administrator's token with an allocation run to fetch."""

    # The first of each list is what Hypothesis tries first (and shrinks towards).
    tenant = ["arvika", "eda", "karlstad"]
    service = ["synpunkter", "felanmalan", "varmepump", "forskoleplats"]
    public = [None, BOGUS]

    def __init__(self, app, client, request):
        self.app, self.client, self.request = app, client, request

    @cached_property
    def _cases(self) -> list[dict]:
        photo = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
        # The photo's case first, which Hypothesis tries first: with its file's id, a
        # download that succeeds.
        return [
            submit(self.client, service="felanmalan", answers=photo),
            submit(self.client),
            submit(self.client, service="felanmalan", answers=FELANMALAN),
        ]

    @cached_property
    def reference(self) -> list[str]:
        return [case["reference"] for case in self._cases]

    @cached_property
    def attachment_id(self) -> list[int]:
        """The photo's, at Arvika: a file the staff token may fetch."""
        self.reference  # noqa: B018 - the cases exist once their references do
        with self.app.app_context(), maintenance_session() as session:
            return list(session.execute(sa.text("SELECT id FROM attachments")).scalars())

    @cached_property
    def token(self) -> list[str]:
        return [case["status_url"].rsplit("/", 1)[1] for case in self._cases]

    @cached_property
    def staff(self) -> list[str | None]:
        assert create(self.app, ANNA).exit_code == 0
        return [f"Bearer {token_of(self.app, ANNA)}", BOGUS, None]

    @cached_property
    def period(self) -> list[str]:
        self.request.getfixturevalue("a_run")  # signs in the hub's administrator, NAVET
        return [self.request.getfixturevalue("period")]

    @cached_property
    def hub(self) -> list[str | None]:
        self.period  # noqa: B018 - NAVET exists once the run does
        return [f"Bearer {token_of(self.app, NAVET, tenant='karlstad')}", BOGUS, None]


@pytest.fixture
def world(app, client, request) -> World:
    return World(app, client, request)


def steer(case, data, world: World) -> dict:
    """Point most generated path values at things that exist, choose the Authorization
    header, and sometimes send real answers with one generated value in a real field.
    Returns the headers to send."""
    for name in list(case.path_parameters or {}):
        if hasattr(World, name):
            value = data.draw(st.sampled_from([*getattr(world, name), KEEP]), label=name)
            if value is not KEEP:
                case.path_parameters[name] = value
    path = case.operation.path
    answers = ANSWERS.get((case.path_parameters or {}).get("service"))
    if path.endswith("/submissions") and answers is not None and isinstance(case.body, dict):
        how = data.draw(st.sampled_from(["one field", "real", "generated"]), label="body")
        if how == "real":
            case.body = dict(answers)
        elif how == "one field" and case.body:
            field = data.draw(st.sampled_from(sorted(answers)), label="field")
            case.body = {**answers, field: next(iter(case.body.values()))}
    kind = "hub" if "/hub/" in path else "staff" if "/cases" in path else "public"
    token = data.draw(st.sampled_from(getattr(world, kind)), label="authorization")
    return {} if token is None else {"Authorization": token}


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # `world` is built once per run, on purpose
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_never_fails_and_answers_as_documented(app, world, case, data):
    headers = steer(case, data, world)
    case.call_and_validate(app=closing(app), headers=headers, checks=CHECKS)


def closing(app):
    """The app, its response read whole and closed, as a WSGI server does: schemathesis
    reads a response without closing it, which leaves a file sent with send_file (an
    attachment) open."""

    def serve(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return serve
