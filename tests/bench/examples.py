"""Answers citizens give, per e-service, made into stored answers by the app's own form
engine (so the seeded cases render like real ones)."""

from datetime import date

import psycopg

from samverkan.catalogue.engine import ServiceForm

NEXT_YEAR = date.today().year + 1

RAW = {
    "synpunkter": [
        {"kind": "fraga", "area": "annat", "message": "Hur söker jag bygglov?", "want_reply": "no"},
        {
            "kind": "klagomal",
            "area": "gata_park",
            "message": "Snöröjningen på Storgatan har inte kommit i dag heller. " * 4,
            "want_reply": "yes",
            "name": "Anna Berg",
            "email": "anna@exempel.se",
        },
    ],
    "felanmalan": [
        {
            "kind": "belysning",
            "description": "Gatlampan lyser inte.",
            "location": "Storgatan 12",
            "want_contact": "no",
        },
        {
            "kind": "belysning",
            "description": "Tre lampor i rad är släckta längs gång- och cykelvägen.",
            "location": "Älvgatan vid bron",
            "want_contact": "yes",
            "name": "Per Ek",
            "email": "per@exempel.se",
        },
    ],
    "forskoleplats": [
        {
            "child_personnummer": "20230115-0005",
            "child_name": "Lilla Berg",
            "guardian_personnummer": "8112289874",
            "guardian_name": "Anna Berg",
            "email": "anna@exempel.se",
            "phone": "070-123 45 67",
            "street_address": "Storgatan 1",
            "postal_code": "67131",
            "city": "Arvika",
            "start_date": date(NEXT_YEAR, 8, 1).isoformat(),
            "preschool_wishes": ["Förskoleområde norr"],
            "hours_per_week": 30,
            "confirm": True,
        }
    ],
    "varmepump": [
        {
            "property_designation": "Exempelby 1:23",
            "property_address": "Skogsvägen 4",
            "owner_type": "company",
            "owner_orgnr": "2120001850",
            "owner_name": "Berg Fastigheter AB",
            "email": "info@exempel.se",
            "phone": "054-12 34 56",
            "heat_source": "ytjordvarme",
            "planned_start": date(NEXT_YEAR, 5, 1).isoformat(),
            "confirm": True,
        }
    ],
    "skolskjuts": [
        {
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
    ],
    "parkeringstillstand": [
        {
            "applicant_personnummer": "8112289874",
            "applicant_name": "Anna Berg",
            "street_address": "Storgatan 1",
            "postal_code": "67131",
            "city": "Arvika",
            "phone": "070-123 45 67",
            "email": "anna@exempel.se",
            "permit_kind": "driver",
            "confirm": True,
        }
    ],
}


def forms(conn: psycopg.Connection, member: str = "arvika") -> dict[str, ServiceForm]:
    """Each e-service's form as the member runs it."""
    rows = conn.execute(
        "SELECT ts.service_slug, d.content, ts.settings FROM tenant_services ts "
        "JOIN service_definitions d ON d.id = ts.definition_id "
        "JOIN tenants t ON t.id = ts.tenant_id WHERE t.slug = %s",
        (member,),
    ).fetchall()
    return {slug: ServiceForm(content, settings) for slug, content, settings in rows}


def stored_answers(form: ServiceForm, raw: dict) -> dict:
    """Validated and as stored. A file field is left out (the seeded cases carry no files);
    any other error is a mistake in RAW and stops the bench."""
    result = form.validate(form.all_fields(), raw)
    files = {f["name"] for f in form.all_fields() if f["type"] == "file"}
    wrong = {name: errors for name, errors in result.errors.items() if name not in files}
    if wrong:
        raise ValueError(f"{form.definition['slug']}: example answers refused: {wrong}")
    return form.to_json(result.answers)


def answers_by_service(conn: psycopg.Connection) -> dict[str, list[dict]]:
    by_slug = forms(conn)
    return {slug: [stored_answers(by_slug[slug], raw) for raw in RAW[slug]] for slug in RAW}
