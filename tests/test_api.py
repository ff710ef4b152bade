"""The public JSON API v1, from the client's side: what each endpoint answers, what a
submission leaves in the database and on disk, and that the OpenAPI document tells the truth.
"""

import base64
import hashlib
import json
import re
import struct
import tomllib
import zlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from samverkan.cases.models import Attachment, Case, CaseEvent
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db
from samverkan.settings import PROJECT_ROOT
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

MEMBERS = {
    # slug: (name, SCB code, population 31 Dec 2023) — /work/shared/FACTS.md
    "kil": ("Kils kommun", "1715", 12085),
    "eda": ("Eda kommun", "1730", 8499),
    "torsby": ("Torsby kommun", "1737", 11387),
    "storfors": ("Storfors kommun", "1760", 3801),
    "hammaro": ("Hammarö kommun", "1761", 16940),
    "munkfors": ("Munkfors kommun", "1762", 3669),
    "forshaga": ("Forshaga kommun", "1763", 11538),
    "grums": ("Grums kommun", "1764", 9057),
    "arjang": ("Årjängs kommun", "1765", 9893),
    "sunne": ("Sunne kommun", "1766", 13366),
    "karlstad": ("Karlstads kommun", "1780", 97233),
    "kristinehamn": ("Kristinehamns kommun", "1781", 23817),
    "filipstad": ("Filipstads kommun", "1782", 10034),
    "hagfors": ("Hagfors kommun", "1783", 11536),
    "arvika": ("Arvika kommun", "1784", 25682),
    "saffle": ("Säffle kommun", "1785", 15011),
}

SYNPUNKTER = {"kind": "fraga", "area": "annat", "message": "Hur söker jag bygglov?"}
ANONYMOUS = {**SYNPUNKTER, "want_reply": "no"}
WITH_REPLY = {**SYNPUNKTER, "want_reply": "yes", "name": "Anna Berg", "email": "anna@exempel.se"}
FELANMALAN = {
    "kind": "belysning",
    "description": "Gatlampan lyser inte.",
    "location": "Storgatan 12",
    "want_contact": "no",
}
FORSKOLEPLATS = {
    "child_personnummer": "20230115-0005",
    "child_name": "Lilla Berg",
    "guardian_personnummer": "8112289874",
    "guardian_name": "Anna Berg",
    "email": "anna@exempel.se",
    "phone": "070-123 45 67",
    "street_address": "Storgatan 1",
    "postal_code": "67131",
    "city": "Arvika",
    "start_date": date(date.today().year + 1, 8, 1).isoformat(),
    "preschool_wishes": ["Förskoleområde norr"],
    "hours_per_week": 30,
    "confirm": True,
}
VARMEPUMP = {
    "property_designation": "Exempelby 1:23",
    "property_address": "Skogsvägen 4",
    "owner_type": "company",
    "owner_orgnr": "2120001850",
    "owner_name": "Berg Fastigheter AB",
    "email": "info@exempel.se",
    "phone": "054-12 34 56",
    "heat_source": "ytjordvarme",
    "planned_start": date(date.today().year + 1, 5, 1).isoformat(),
    "confirm": True,
}
SKOLSKJUTS = {
    "pupil_personnummer": "20150303-1237",
    "pupil_name": "Lilla Berg",
    "school": "Centralskolan",
    "grade": "4",
    "reason": "avstand",
    "street_address": "Skogsvägen 4",
    "postal_code": "67191",
    "city": "Arvika",
    "guardian_name": "Anna Berg",
    "email": "anna@exempel.se",
    "phone": "070-123 45 67",
    "confirm": True,
}
FIELD_KEYS = ("name", "type", "label", "hint", "required", "options", "condition", "schema")
WRONG_IMAGE = "Filen måste vara av typen JPEG eller PNG."
FILE_SHAPE = 'Skicka filen som {"filename": "...", "content_base64": "..."}.'
UNREAL_PERSONNUMMER = "19811228-9875"  # the check digit of 19811228-9874 plus one


# -- helpers -------------------------------------------------------------------------------


def submissions(member: str, service: str) -> str:
    return f"/api/v1/tenants/{member}/services/{service}/submissions"


def tiny_png() -> bytes:
    """A real 1×1 grey PNG, built by hand so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def as_upload(filename: str, content: bytes) -> dict:
    return {"filename": filename, "content_base64": base64.b64encode(content).decode()}


def this_year() -> int:
    return datetime.now(ZoneInfo("Europe/Stockholm")).year


def tenant_id(slug: str) -> int:
    return db.session.scalar(sa.select(Tenant.id).filter_by(slug=slug))


def stored_cases(app, member: str) -> list[dict]:
    """The member's cases as stored, oldest first."""
    with app.app_context():
        bind_tenant(db.session, tenant_id(member))
        cases = db.session.scalars(sa.select(Case).order_by(Case.number)).all()
        rows = [
            {
                "reference": case.reference,
                "service": case.service_slug,
                "answers": case.answers,
                "channel": case.channel,
                "status": case.status,
                "idempotency_key": case.idempotency_key,
            }
            for case in cases
        ]
        db.session.remove()
    return rows


def count_rows(app, table: str) -> int:
    """Rows in a case table across all members (raw SQL: no tenant needs binding)."""
    with app.app_context():
        count = db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        db.session.remove()
    return count


def nothing_stored(app) -> bool:
    return all(count_rows(app, table) == 0 for table in ("cases", "case_events", "attachments"))


def member_file(slug: str) -> dict:
    with (PROJECT_ROOT / "tenants" / f"{slug}.toml").open("rb") as handle:
        return tomllib.load(handle)


def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def switched_off(app, resync):
    """Arvika switches synpunkter off in the database; `resync` switches it back on."""
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        service = db.session.scalar(sa.select(TenantService).filter_by(service_slug="synpunkter"))
        service.enabled = False
        db.session.commit()
        db.session.remove()
    return "synpunkter"


# -- a small validator for the OpenAPI 3.0 schema objects the document uses ----------------

ANNOTATIONS = {"description", "readOnly", "writeOnly", "example", "title", "contentEncoding"}
KEYWORDS = ANNOTATIONS | {
    "$ref",
    "type",
    "nullable",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "format",
    "maxLength",
    "minLength",
    "pattern",
    "minimum",
    "maximum",
    "maxItems",
    "minItems",
}
TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), f"only local references are expected: {ref}"
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date-time":
        try:
            return datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    if fmt == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if fmt == "email":
        return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
    raise AssertionError(f"the validator does not know the format {fmt!r}")


def schema_errors(value, schema: dict, document: dict, path: str = "$") -> list[str]:
    """Where `value` breaks the OpenAPI 3.0 `schema`; fails loudly on a keyword it does
    not know rather than passing something it did not check."""
    unknown = set(schema) - KEYWORDS
    assert not unknown, f"{path}: the validator does not know {sorted(unknown)}"
    if "$ref" in schema:
        return schema_errors(value, resolve(document, schema["$ref"]), document, path)
    if value is None:
        ok = schema.get("nullable", False) or "type" not in schema
        return [] if ok else [f"{path}: null is not allowed"]
    kind = schema.get("type")
    if kind is not None and not TYPES[kind](value):
        return [f"{path}: {value!r} is not of type {kind}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(schema["format"], value):
            errors.append(f"{path}: {value!r} is not a {schema['format']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        for index, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), document, f"{path}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [name for name in schema.get("required", []) if name not in value]
        errors += [f"{path}: {name!r} is missing" for name in missing]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            where = f"{path}.{name}"
            if name in properties:
                errors += schema_errors(item, properties[name], document, where)
            elif extra is False:
                errors.append(f"{where}: not a documented property")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, document, where)
    return errors


def all_refs(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def assert_documented(document: dict, path: str, method: str, response) -> None:
    """The response's status is documented for the operation and its body fits the schema."""
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}"
    assert response.mimetype == "application/json"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    errors = schema_errors(response.get_json(), schema, document)
    assert errors == [], f"{method.upper()} {path} {status}: {errors}"


def api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every route the api blueprint serves."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "api":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


# -- members -------------------------------------------------------------------------------


def test_tenants_lists_all_sixteen_members_with_their_facts(client):
    response = client.get("/api/v1/tenants")
    assert response.status_code == 200
    members = {m["slug"]: m for m in response.get_json()}
    assert set(members) == set(MEMBERS)
    for slug, (name, code, population) in MEMBERS.items():
        member = members[slug]
        assert member["name"] == name
        assert member["municipality_code"] == code
        assert member["kind"] == "municipality"
        assert member["population"]["year"] == 2023
        assert member["population"]["count"] == population
    assert sum(m["population"]["count"] for m in members.values()) == 283548


def test_only_karlstad_is_the_hub(client):
    members = client.get("/api/v1/tenants").get_json()
    assert [m["slug"] for m in members if m["hub"] is True] == ["karlstad"]
    assert all(m["hub"] is False for m in members if m["slug"] != "karlstad")


def test_tenants_are_listed_by_name_in_swedish_order(client):
    names = [m["name"] for m in client.get("/api/v1/tenants").get_json()]
    assert names[0] == "Arvika kommun"
    assert names[-1] == "Årjängs kommun"  # Å comes after Z in Swedish
    assert names.index("Sunne kommun") < names.index("Säffle kommun")


def test_members_have_distinct_reference_prefixes(client):
    members = client.get("/api/v1/tenants").get_json()
    prefixes = [m["reference_prefix"] for m in members]
    assert len(set(prefixes)) == 16
    assert {m["slug"]: m["reference_prefix"] for m in members}["arvika"] == "ARV"


def test_a_member_that_has_left_is_not_listed_and_its_api_is_gone(app, client):
    with app.app_context():
        db.session.execute(sa.update(Tenant).where(Tenant.slug == "storfors").values(status="left"))
        db.session.commit()
        db.session.remove()
    try:
        slugs = [m["slug"] for m in client.get("/api/v1/tenants").get_json()]
        services = client.get("/api/v1/tenants/storfors/services")
        submitted = client.post(submissions("storfors", "synpunkter"), json=ANONYMOUS)
    finally:
        with app.app_context():
            db.session.execute(
                sa.update(Tenant).where(Tenant.slug == "storfors").values(status="active")
            )
            db.session.commit()
            db.session.remove()
    assert "storfors" not in slugs and len(slugs) == 15
    assert services.status_code == 404
    assert submitted.status_code == 404
    assert nothing_stored(app)


# -- services and definitions --------------------------------------------------------------


def test_services_lists_what_the_member_has_switched_on_by_category(client):
    response = client.get("/api/v1/tenants/arvika/services")
    assert response.status_code == 200
    services = response.get_json()
    switched_on = {
        slug for slug, switch in member_file("arvika")["services"].items() if switch["enabled"]
    }
    assert {s["slug"] for s in services} == switched_on
    with (PROJECT_ROOT / "services" / "categories.toml").open("rb") as handle:
        order = {key: value["order"] for key, value in tomllib.load(handle).items()}
    positions = [order[s["category"]] for s in services]
    assert positions == sorted(positions)
    felanmalan = next(s for s in services if s["slug"] == "felanmalan")
    assert felanmalan == {
        "slug": "felanmalan",
        "title": "Felanmälan gata, park och belysning",
        "version": 1,
        "category": "gata-trafik",
    }


def test_definition_has_steps_and_fields_with_their_conditions(client):
    response = client.get("/api/v1/tenants/arvika/services/synpunkter")
    assert response.status_code == 200
    definition = response.get_json()
    assert definition["slug"] == "synpunkter"
    assert definition["version"] == 1
    assert definition["title"] == "Synpunkter och klagomål"
    assert definition["category"] == "kommun-politik"
    assert definition["login_required"] is False
    assert [step["id"] for step in definition["steps"]] == ["synpunkt", "svar"]
    fields = {f["name"]: f for step in definition["steps"] for f in step["fields"]}
    assert list(fields) == ["kind", "area", "message", "want_reply", "name", "email"]
    for field in fields.values():
        assert list(field) == [*FIELD_KEYS]
    assert fields["kind"]["type"] == "choice"
    assert fields["kind"]["label"] == "Vad vill du lämna?"
    assert fields["kind"]["required"] is True
    kinds = ["synpunkt", "klagomal", "berom", "fraga"]
    assert [o["value"] for o in fields["kind"]["options"]] == kinds
    assert fields["kind"]["options"][1] == {"value": "klagomal", "label": "Klagomål"}
    assert fields["kind"]["schema"] == {"type": "string", "enum": kinds}
    assert fields["message"]["options"] is None
    assert fields["message"]["schema"] == {"type": "string", "maxLength": 4000}
    assert fields["kind"]["condition"] is None
    assert fields["email"]["condition"] == {"field": "want_reply", "equals": "yes"}
    assert fields["email"]["required"] is True
    assert fields["name"]["required"] is False


def test_definition_describes_a_file_field_as_base64_object(client):
    definition = client.get("/api/v1/tenants/arvika/services/felanmalan").get_json()
    photo = next(f for step in definition["steps"] for f in step["fields"] if f["name"] == "photo")
    assert photo["type"] == "file"
    assert photo["required"] is False
    assert photo["schema"]["required"] == ["filename", "content_base64"]
    assert set(photo["schema"]["properties"]) == {"filename", "content_base64"}


@pytest.mark.parametrize("member", ["arvika", "munkfors", "forshaga"])
def test_preschool_options_come_from_the_members_own_settings(client, member):
    wanted = member_file(member)["services"]["forskoleplats"]["settings"]["preschools"]
    definition = client.get(f"/api/v1/tenants/{member}/services/forskoleplats").get_json()
    field = next(
        f for step in definition["steps"] for f in step["fields"] if f["name"] == "preschool_wishes"
    )
    assert field["type"] == "multichoice"
    assert field["options"] == [{"value": name, "label": name} for name in wanted]
    assert field["schema"]["items"]["enum"] == wanted
    assert field["schema"]["maxItems"] == 3


def test_a_preschool_only_another_member_has_is_refused(app, client):
    """Munkfors has no 'öster' area (Arvika has): the options follow the member."""
    answers = {**FORSKOLEPLATS, "preschool_wishes": ["Förskoleområde öster"]}
    response = client.post(submissions("munkfors", "forskoleplats"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"preschool_wishes": ["Välj bland alternativen."]}
    assert client.post(submissions("arvika", "forskoleplats"), json=answers).status_code == 201
    assert stored_cases(app, "munkfors") == []


# -- submitting ----------------------------------------------------------------------------


def test_submitting_synpunkter_registers_a_case_with_the_members_reference(app, client):
    response = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS)
    assert response.status_code == 201
    body = response.get_json()
    assert body["reference"] == f"ARV-{this_year()}-000001"
    assert re.fullmatch(r"ARV-\d{4}-\d{6}", body["reference"])
    assert body["status"] == "received"
    assert body["status_url"].startswith("http://localhost/api/v1/tenants/arvika/cases/")
    assert response.headers["Location"] == body["status_url"]
    assert "Idempotent-Replayed" not in response.headers
    [case] = stored_cases(app, "arvika")
    assert case["reference"] == body["reference"]
    assert case["service"] == "synpunkter"
    assert case["answers"] == ANONYMOUS
    assert case["channel"] == "api"
    assert case["status"] == "received"
    assert count_rows(app, "case_events") == 1


def test_each_member_numbers_its_own_series(app, client):
    year = this_year()
    references = [
        client.post(submissions(member, "synpunkter"), json=ANONYMOUS).get_json()["reference"]
        for member in ("arvika", "kil", "arvika", "arvika", "kil")
    ]
    assert references == [
        f"ARV-{year}-000001",
        f"KIL-{year}-000001",
        f"ARV-{year}-000002",
        f"ARV-{year}-000003",
        f"KIL-{year}-000002",
    ]


def test_status_url_shows_the_status_and_history(client):
    created = client.post(submissions("eda", "synpunkter"), json=ANONYMOUS).get_json()
    response = client.get(created["status_url"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    status = response.get_json()
    assert status["reference"] == created["reference"]
    assert status["service"] == "synpunkter"
    assert status["service_version"] == 1
    assert status["status"] == "received"
    assert status["status_label"] == "Mottaget"
    assert datetime.fromisoformat(status["submitted_at"]).tzinfo is not None
    [event] = status["history"]
    assert event["kind"] == "submitted"
    assert event["status"] == "received"
    assert event["message"] == "Ärendet har tagits emot och registrerats."
    assert datetime.fromisoformat(event["at"]) == datetime.fromisoformat(status["submitted_at"])


def test_history_leaves_out_events_not_meant_for_the_citizen(app, client):
    created = client.post(submissions("eda", "synpunkter"), json=ANONYMOUS).get_json()
    with app.app_context():
        bind_tenant(db.session, tenant_id("eda"))
        case = db.session.scalar(sa.select(Case))
        db.session.add(
            CaseEvent(
                case_id=case.id,
                kind="note",
                status="received",
                message="Intern anteckning: ring byggnadsnämnden.",
                visible_to_citizen=False,
            )
        )
        db.session.commit()
        db.session.remove()
    status = client.get(created["status_url"])
    assert [e["kind"] for e in status.get_json()["history"]] == ["submitted"]
    assert "Intern anteckning" not in status.text


def test_status_of_an_unknown_token_is_404_json(client):
    response = client.get("/api/v1/tenants/arvika/cases/no-such-token")
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "Sidan finns inte",
        "message": "Det finns inget ärende med den länken.",
    }


def test_status_token_does_not_work_under_another_member(client):
    created = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS).get_json()
    token = created["status_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/tenants/arvika/cases/{token}").status_code == 200
    response = client.get(f"/api/v1/tenants/kil/cases/{token}")
    assert response.status_code == 404
    assert created["reference"] not in response.text


def test_felanmalan_with_a_photo_stores_it_under_a_server_made_name(app, client, upload_root):
    data = tiny_png()
    answers = {**FELANMALAN, "photo": as_upload("../../etc/lampa.png", data)}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 201, response.text
    [case] = stored_cases(app, "arvika")
    with app.app_context():
        arvika = tenant_id("arvika")
        bind_tenant(db.session, arvika)
        attachment = db.session.scalar(sa.select(Attachment))
        db.session.remove()
    assert attachment.field_name == "photo"
    assert attachment.filename == "lampa.png"
    assert attachment.content_type == "image/png"
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}\.png", attachment.storage_name)
    stored = upload_root / str(arvika) / attachment.storage_name
    assert stored.read_bytes() == data
    assert not any(path.name == "lampa.png" for path in upload_root.rglob("*"))
    assert case["answers"]["photo"]["file"]["sha256"] == attachment.sha256
    assert "content_base64" not in json.dumps(case["answers"])


def test_a_png_named_pdf_is_kept_as_the_png_it_is(app, client):
    answers = {**FELANMALAN, "photo": as_upload("karta.pdf", tiny_png())}
    assert client.post(submissions("arvika", "felanmalan"), json=answers).status_code == 201
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        attachment = db.session.scalar(sa.select(Attachment))
        db.session.remove()
    assert attachment.content_type == "image/png"
    assert attachment.storage_name.endswith(".png")


def test_swedish_numbers_are_stored_in_their_standard_form(app, client):
    assert (
        client.post(submissions("arvika", "forskoleplats"), json=FORSKOLEPLATS).status_code == 201
    )
    assert client.post(submissions("arvika", "varmepump"), json=VARMEPUMP).status_code == 201
    forskoleplats, varmepump = stored_cases(app, "arvika")
    assert forskoleplats["answers"]["guardian_personnummer"] == "19811228-9874"
    assert forskoleplats["answers"]["postal_code"] == "671 31"
    assert forskoleplats["answers"]["preschool_wishes"] == ["Förskoleområde norr"]
    assert forskoleplats["answers"]["confirm"] is True
    assert varmepump["answers"]["owner_orgnr"] == "212000-1850"


def test_a_number_sent_as_digits_in_a_string_is_stored_as_a_number(app, client):
    answers = {**FORSKOLEPLATS, "hours_per_week": "25"}
    assert client.post(submissions("arvika", "forskoleplats"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"]["hours_per_week"] == 25


def test_a_less_than_sign_that_is_not_markup_is_accepted(app, client):
    answers = {**ANONYMOUS, "message": "Hastigheten är < 30 km/h men skylten säger 50 <3"}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"]["message"] == answers["message"]


# -- conditional fields --------------------------------------------------------------------


def test_a_field_hidden_by_its_condition_is_not_required(app, client):
    """want_reply=no hides email, which is otherwise required."""
    response = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS)
    assert response.status_code == 201
    assert "email" not in stored_cases(app, "arvika")[0]["answers"]


def test_a_field_shown_by_its_condition_is_required(app, client):
    answers = {**SYNPUNKTER, "want_reply": "yes"}
    response = client.post(submissions("arvika", "synpunkter"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"email": ["Du måste fylla i det här fältet."]}
    assert client.post(submissions("arvika", "synpunkter"), json=WITH_REPLY).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == WITH_REPLY


def test_the_value_of_a_hidden_field_is_dropped_not_stored(app, client):
    answers = {**ANONYMOUS, "name": "Anna Berg", "email": "anna@exempel.se"}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == ANONYMOUS


def test_a_hidden_field_is_not_validated(app, client):
    answers = {**ANONYMOUS, "email": "inte en adress", "name": ["fel", "typ"]}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == ANONYMOUS


def test_a_hidden_file_is_dropped_and_never_written_to_disk(app, client, upload_root):
    """skolskjuts asks for a certificate only when the reason is a disability."""
    definition = client.get("/api/v1/tenants/arvika/services/skolskjuts").get_json()
    certificate = next(
        f for step in definition["steps"] for f in step["fields"] if f["name"] == "certificate"
    )
    assert certificate["required"] is True
    assert certificate["condition"] == {"field": "reason", "equals": "funktionsnedsattning"}
    before = sorted(upload_root.rglob("*")) if upload_root.exists() else []
    answers = {**SKOLSKJUTS, "certificate": as_upload("intyg.png", tiny_png())}
    response = client.post(submissions("arvika", "skolskjuts"), json=answers)
    assert response.status_code == 201, response.text
    assert stored_cases(app, "arvika")[0]["answers"] == {**SKOLSKJUTS, "postal_code": "671 91"}
    assert count_rows(app, "attachments") == 0
    assert (sorted(upload_root.rglob("*")) if upload_root.exists() else []) == before


def test_a_required_file_shown_by_its_condition_must_be_sent(app, client):
    answers = {**SKOLSKJUTS, "reason": "funktionsnedsattning"}
    response = client.post(submissions("arvika", "skolskjuts"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"certificate": ["Välj en fil att ladda upp."]}
    assert nothing_stored(app)


# -- answers that need correcting (422) ----------------------------------------------------


def test_missing_required_answers_are_listed_per_field_in_form_order(app, client):
    response = client.post(submissions("arvika", "synpunkter"), json={})
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Några svar behöver rättas."
    assert body["errors"] == {
        "kind": ["Välj ett av alternativen."],
        "area": ["Välj ett av alternativen."],
        "message": ["Du måste fylla i det här fältet."],
        "want_reply": ["Välj ett av alternativen."],
    }
    assert nothing_stored(app)


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_required_answer_counts_as_missing(client, blank):
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "message": blank}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"message": ["Du måste fylla i det här fältet."]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "guardian_personnummer",
            UNREAL_PERSONNUMMER,
            "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
            "till exempel ÅÅÅÅMMDD-NNNN.",
        ),
        (
            "child_personnummer",
            "2023-01-15",
            "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
            "till exempel ÅÅÅÅMMDD-NNNN.",
        ),
        ("postal_code", "07131", "Ange ett postnummer med fem siffror, till exempel 123 45."),
        ("postal_code", "6713", "Ange ett postnummer med fem siffror, till exempel 123 45."),
        ("email", "anna.exempel.se", "Ange en giltig e-postadress, till exempel namn@exempel.se."),
        ("phone", "ring mig", "Ange ett telefonnummer med siffror, till exempel 070-123 45 67."),
        ("start_date", "1/8 2030", "Ange ett datum som ÅÅÅÅ-MM-DD, till exempel 2027-01-15."),
        ("start_date", "2020-01-01", "Datumet måste vara i dag eller senare."),
        ("hours_per_week", "tolv", "Ange ett heltal, till exempel 12."),
        ("hours_per_week", 61, "Ange ett heltal mellan 1 och 60."),
        ("hours_per_week", True, "Ange ett heltal, till exempel 12."),
        ("preschool_wishes", "Förskoleområde norr", "Skicka alternativen som en lista."),
        ("preschool_wishes", ["Förskoleområde norr"] * 2, "Välj varje alternativ bara en gång."),
        ("preschool_wishes", ["Förskoleområde okänt"], "Välj bland alternativen."),
        ("confirm", False, "Du måste kryssa i rutan för att gå vidare."),
        ("child_name", ["Lilla", "Berg"], "Ogiltigt värde."),
        ("child_name", 42, "Ogiltigt värde."),
        ("child_name", "Lilla\x00Berg", "Texten innehåller otillåtna tecken."),
        ("child_name", "x" * 201, "Texten får vara högst 200 tecken."),
    ],
)
def test_a_wrong_answer_gets_a_swedish_message_naming_the_field(app, client, field, value, message):
    response = client.post(
        submissions("arvika", "forskoleplats"), json={**FORSKOLEPLATS, field: value}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {field: [message]}
    assert nothing_stored(app)


def test_a_wrong_orgnr_gets_a_swedish_message(app, client):
    response = client.post(
        submissions("arvika", "varmepump"), json={**VARMEPUMP, "owner_orgnr": "2120001851"}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "owner_orgnr": [
            "Ange ett giltigt organisationsnummer med 10 siffror, till exempel NNNNNN-NNNN."
        ]
    }
    assert nothing_stored(app)


def test_unknown_field_names_are_refused(app, client):
    answers = {**ANONYMOUS, "favourite_colour": "blå", "tenant": "kil"}
    response = client.post(submissions("arvika", "synpunkter"), json=answers)
    assert response.status_code == 422
    unknown = ["Okänt fält: det finns inte i den här e-tjänsten."]
    assert response.get_json()["errors"] == {"favourite_colour": unknown, "tenant": unknown}
    assert nothing_stored(app)


def test_a_choice_outside_the_options_is_refused(client):
    response = client.post(submissions("arvika", "synpunkter"), json={**ANONYMOUS, "kind": "hot"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"kind": ["Välj ett av alternativen."]}


def test_script_in_a_text_answer_is_refused_stored_nowhere_and_not_echoed(app, client):
    script = "<script>alert(1)</script>"
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "message": script}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "message": [
            "Texten får inte innehålla HTML-kod. Ta bort tecknet < eller skriv det som text."
        ]
    }
    assert "<script" not in response.get_data(as_text=True)
    assert nothing_stored(app)


def test_script_in_a_field_name_is_not_echoed_back(app, client):
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "<script>alert(1)</script>": "x"}
    )
    assert response.status_code == 422
    assert nothing_stored(app)
    assert "<script" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (as_upload("karta.pdf", b"just some text, not a PDF"), WRONG_IMAGE),
        (as_upload("bild.png", b"MZ\x90\x00 not an image"), WRONG_IMAGE),
        (as_upload("bild.png", b""), "Filen är tom. Välj en fil med innehåll."),
        (
            {"filename": "bild.png", "content_base64": "inte base64!"},
            "Filens innehåll är inte giltig base64.",
        ),
        ("bild.png", FILE_SHAPE),
        ({**as_upload("bild.png", tiny_png()), "path": "/tmp"}, FILE_SHAPE),
    ],
    ids=["text-named-pdf", "exe-named-png", "empty", "bad-base64", "bare-string", "extra-key"],
)
def test_a_file_that_is_not_an_allowed_image_is_refused(app, client, upload, message):
    response = client.post(
        submissions("arvika", "felanmalan"), json={**FELANMALAN, "photo": upload}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"photo": [message]}
    assert nothing_stored(app)


def test_a_text_file_named_pdf_is_refused_where_pdf_is_allowed(app, client):
    answers = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", b"%PDX not really a PDF")}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "site_plan": ["Filen måste vara av typen PDF, JPEG eller PNG."]
    }
    assert nothing_stored(app)


def test_a_fractional_number_is_refused_not_truncated(app, client):
    answers = {**FORSKOLEPLATS, "hours_per_week": 12.7}
    response = client.post(submissions("arvika", "forskoleplats"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "hours_per_week": ["Ange ett heltal, till exempel 12."]
    }
    assert nothing_stored(app)


def test_a_number_too_large_for_a_float_gets_a_swedish_message(client):
    body = json.dumps(FORSKOLEPLATS).replace('"hours_per_week": 30', '"hours_per_week": 1e400')
    response = client.post(
        submissions("arvika", "forskoleplats"), data=body, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["hours_per_week"][0] in {
        "Ange ett heltal mellan 1 och 60.",
        "Ange ett heltal, till exempel 12.",
    }


# -- idempotency ---------------------------------------------------------------------------


def test_same_idempotency_key_twice_gives_one_case(app, client):
    url = submissions("arvika", "synpunkter")
    first = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "retry-1"})
    again = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    [case] = stored_cases(app, "arvika")
    assert case["idempotency_key"] == "api:retry-1"
    assert count_rows(app, "case_events") == 1


def test_a_replay_with_the_same_answers_written_differently_is_still_a_replay(app, client):
    url = submissions("arvika", "forskoleplats")
    headers = {"Idempotency-Key": "form-7"}
    first = client.post(url, json=FORSKOLEPLATS, headers=headers)
    rewritten = {**FORSKOLEPLATS, "guardian_personnummer": "19811228-9874", "hours_per_week": "30"}
    again = client.post(url, json=rewritten, headers=headers)
    assert again.status_code == 201
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert len(stored_cases(app, "arvika")) == 1


def test_same_idempotency_key_with_different_answers_is_409(app, client):
    url = submissions("arvika", "synpunkter")
    headers = {"Idempotency-Key": "retry-2"}
    first = client.post(url, json=ANONYMOUS, headers=headers)
    response = client.post(url, json={**ANONYMOUS, "message": "Något annat"}, headers=headers)
    assert response.status_code == 409
    assert response.get_json() == {
        "error": "Konflikt",
        "message": "Samma Idempotency-Key har redan använts med andra svar. Använd en ny nyckel.",
    }
    [case] = stored_cases(app, "arvika")
    assert case["reference"] == first.get_json()["reference"]
    assert case["answers"]["message"] == ANONYMOUS["message"]


def test_same_photo_key_with_another_photo_is_409(app, client):
    url = submissions("arvika", "felanmalan")
    headers = {"Idempotency-Key": "photo-1"}
    png = tiny_png()
    first = {**FELANMALAN, "photo": as_upload("a.png", png)}
    other = {**FELANMALAN, "photo": as_upload("a.png", png + b"trailing")}
    assert client.post(url, json=first, headers=headers).status_code == 201
    assert client.post(url, json=other, headers=headers).status_code == 409
    assert count_rows(app, "attachments") == 1


def test_a_replayed_photo_is_not_written_again(app, client, upload_root):
    url = submissions("arvika", "felanmalan")
    headers = {"Idempotency-Key": "photo-2"}
    answers = {**FELANMALAN, "photo": as_upload("a.png", tiny_png())}
    first = client.post(url, json=answers, headers=headers)
    files = sorted(path for path in upload_root.rglob("*") if path.is_file())
    again = client.post(url, json=answers, headers=headers)
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert sorted(path for path in upload_root.rglob("*") if path.is_file()) == files
    assert count_rows(app, "attachments") == 1


def test_different_idempotency_keys_give_two_cases(app, client):
    url = submissions("arvika", "synpunkter")
    one = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "a"}).get_json()
    two = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "b"}).get_json()
    assert one["reference"] != two["reference"]
    assert len(stored_cases(app, "arvika")) == 2


def test_no_idempotency_key_gives_a_new_case_each_time(app, client):
    url = submissions("arvika", "synpunkter")
    for _ in range(2):
        assert client.post(url, json=ANONYMOUS).status_code == 201
    assert len(stored_cases(app, "arvika")) == 2


def test_one_key_at_two_members_gives_each_member_its_own_case(app, client):
    headers = {"Idempotency-Key": "shared-key"}
    arvika = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS, headers=headers)
    kil = client.post(submissions("kil", "synpunkter"), json=ANONYMOUS, headers=headers)
    assert arvika.status_code == kil.status_code == 201
    assert arvika.get_json()["reference"].startswith("ARV-")
    assert kil.get_json()["reference"].startswith("KIL-")
    assert "Idempotent-Replayed" not in kil.headers


def test_a_refused_submission_does_not_use_up_its_key(app, client):
    url = submissions("arvika", "synpunkter")
    headers = {"Idempotency-Key": "fix-and-retry"}
    assert client.post(url, json=SYNPUNKTER, headers=headers).status_code == 422
    response = client.post(url, json=ANONYMOUS, headers=headers)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize("key", ["", "tab\there", "x" * 201], ids=["empty", "control", "too-long"])
def test_a_malformed_idempotency_key_is_400(app, client, key):
    response = client.post(
        submissions("arvika", "synpunkter"), json=ANONYMOUS, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == "Idempotency-Key ska vara 1–200 skrivbara tecken."
    assert nothing_stored(app)


def test_an_idempotency_key_of_the_documented_maximum_length_works(app, client):
    key = "k" * 200
    url = submissions("arvika", "synpunkter")
    first = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    again = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": key})
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert len(stored_cases(app, "arvika")) == 1


# -- not found, and bodies that are not answers --------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tenants/stockholm/services",
        "/api/v1/tenants/stockholm/services/synpunkter",
        "/api/v1/tenants/arvika/services/bygglov",
        "/api/v1/tenants/stockholm/cases/some-token",
    ],
)
def test_unknown_member_or_service_is_404_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"error", "message"}


@pytest.mark.parametrize(
    ("member", "service"), [("stockholm", "synpunkter"), ("arvika", "bygglov")]
)
def test_submitting_to_an_unknown_member_or_service_is_404_and_stores_nothing(
    app, client, member, service
):
    response = client.post(submissions(member, service), json=ANONYMOUS)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Sidan finns inte"
    assert nothing_stored(app)


def test_a_service_the_member_switched_off_is_gone_from_its_api(app, client, switched_off):
    listed = [s["slug"] for s in client.get("/api/v1/tenants/arvika/services").get_json()]
    assert switched_off not in listed
    assert "felanmalan" in listed
    assert client.get(f"/api/v1/tenants/arvika/services/{switched_off}").status_code == 404
    response = client.post(submissions("arvika", switched_off), json=ANONYMOUS)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert nothing_stored(app)
    # Other members keep it.
    assert client.post(submissions("kil", switched_off), json=ANONYMOUS).status_code == 201


def test_a_form_encoded_body_is_415(app, client):
    response = client.post(submissions("arvika", "synpunkter"), data=ANONYMOUS)
    assert response.status_code == 415
    assert response.get_json() == {
        "error": "Fel innehållstyp",
        "message": "Skicka JSON med rubriken Content-Type: application/json.",
    }
    assert nothing_stored(app)


def test_malformed_json_is_400(app, client):
    response = client.post(
        submissions("arvika", "synpunkter"),
        data='{"kind": "fraga",',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("Kroppen är inte giltig JSON")
    assert nothing_stored(app)


@pytest.mark.parametrize(
    "body", [[ANONYMOUS], "fraga", 42, None], ids=["array", "string", "number", "null"]
)
def test_json_that_is_not_an_object_is_400(app, client, body):
    response = client.post(
        submissions("arvika", "synpunkter"), data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "Kroppen ska vara ett JSON-objekt med svaren, fält för fält."
    )
    assert nothing_stored(app)


def test_a_body_that_is_not_utf8_is_400(app, client):
    body = json.dumps(ANONYMOUS).encode().replace(b"bygglov", b"bygglov \xff\xfe")
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert nothing_stored(app)


def test_deeply_nested_json_is_400_not_a_server_error(app, client):
    body = '{"message": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert nothing_stored(app)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_400(client, constant):
    body = json.dumps(FORSKOLEPLATS).replace(
        '"hours_per_week": 30', f'"hours_per_week": {constant}'
    )
    response = client.post(
        submissions("arvika", "forskoleplats"), data=body, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        '{"kind": "fraga", "area": "annat", "message": "Hej \\ud83d", "want_reply": "no"}',
        '{"kind": "fraga", "area": "annat", "message": "Hej", "want_reply": "no", "\\ud83d": 1}',
    ],
    ids=["in-an-answer", "in-a-field-name"],
)
def test_a_broken_surrogate_is_refused_not_a_server_error(app, client, body):
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert nothing_stored(app)


def test_a_body_over_the_size_limit_is_413(app, client):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    assert too_big > 25 * 1024 * 1024
    response = client.post(
        submissions("arvika", "synpunkter"), data=b" " * too_big, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "För stor förfrågan"
    assert nothing_stored(app)


def test_a_get_on_submissions_is_405_json(client):
    response = client.get(submissions("arvika", "synpunkter"))
    assert response.status_code == 405
    assert response.get_json()["error"] == "Metoden stöds inte"


def test_a_405_says_which_methods_are_allowed(client):
    response = client.get(submissions("arvika", "synpunkter"))
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")


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
    status_path = "/api/v1/tenants/{tenant}/cases/{token}"
    created = client.post(submissions("arvika", "felanmalan"), json=FELANMALAN).get_json()
    assert_documented(openapi, status_path, "get", client.get(created["status_url"]))
    assert_documented(openapi, status_path, "get", client.get("/api/v1/tenants/arvika/cases/x"))


def test_every_submission_outcome_answers_as_documented(app, client, openapi):
    path = "/api/v1/tenants/{tenant}/services/{service}/submissions"
    url = submissions("arvika", "synpunkter")
    key = {"Idempotency-Key": "contract"}
    outcomes = {
        201: client.post(url, json=ANONYMOUS, headers=key),
        400: client.post(url, json=[ANONYMOUS]),
        404: client.post(submissions("arvika", "bygglov"), json=ANONYMOUS),
        409: client.post(url, json={**ANONYMOUS, "kind": "berom"}, headers=key),
        413: client.post(
            url, data=b" " * (app.config["MAX_CONTENT_LENGTH"] + 1), content_type="application/json"
        ),
        415: client.post(url, data=ANONYMOUS),
        422: client.post(url, json={"message": "<b>hej</b>", "extra": 1}),
    }
    for status, response in outcomes.items():
        assert response.status_code == status
        assert_documented(openapi, path, "post", response)
    assert set(openapi["paths"][path]["post"]["responses"]) == {str(s) for s in outcomes}


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
