"""API v1: the members and the e-services each has switched on."""

import tomllib

import pytest
import sqlalchemy as sa
from api_support import (
    ANONYMOUS,
    FIELD_KEYS,
    FORSKOLEPLATS,
    MEMBERS,
    member_file,
    nothing_stored,
    stored_cases,
    submissions,
)

from samverkan.database_roles import maintenance_session
from samverkan.settings import PROJECT_ROOT
from samverkan.tenancy.models import Tenant

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
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).where(Tenant.slug == "storfors").values(status="left"))
        session.commit()
    try:
        slugs = [m["slug"] for m in client.get("/api/v1/tenants").get_json()]
        services = client.get("/api/v1/tenants/storfors/services")
        submitted = client.post(submissions("storfors", "synpunkter"), json=ANONYMOUS)
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant).where(Tenant.slug == "storfors").values(status="active")
            )
            session.commit()
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
