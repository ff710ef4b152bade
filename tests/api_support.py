"""Shared by the API tests: example answers, database look-ups, and a small validator
for the OpenAPI 3.0 schema objects the document uses."""

import base64
import re
import struct
import tomllib
import zlib
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from conftest import count_all

from samverkan.cases.models import Case
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
    """Rows in a case table across all members."""
    return count_all(app, table)


def nothing_stored(app) -> bool:
    return all(count_rows(app, table) == 0 for table in ("cases", "case_events", "attachments"))


def member_file(slug: str) -> dict:
    with (PROJECT_ROOT / "tenants" / f"{slug}.toml").open("rb") as handle:
        return tomllib.load(handle)


def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


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


def assert_documented(document: dict, path: str, method: str, response) -> None:
    """The response's status is documented for the operation and its body fits the schema."""
    operation = document["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}"
    assert response.mimetype == "application/json"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    errors = schema_errors(response.get_json(), schema, document)
    assert errors == [], f"{method.upper()} {path} {status}: {errors}"
    # The headers a client acts on are documented where they are sent (Location and
    # Idempotent-Replayed were not).
    documented = set(operation["responses"][status].get("headers", {}))
    sent = {name for name in MEANINGFUL_HEADERS if name in response.headers}
    assert sent <= documented, f"{method.upper()} {path} {status}: undocumented {sent - documented}"


MEANINGFUL_HEADERS = ("Location", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")


def api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every route under /api/ (public and staff API)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes
