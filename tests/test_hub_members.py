"""The hub's members: the overview with its chart, onboarding a new member, offboarding one
with an export archive first, and moving members between e-service versions. Every read
across members is in the hub's audit log; a member's own staff never reach these pages."""

import copy
import csv
import io
import json
import re
import shutil
import tomllib
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, as_upload, tiny_png
from conftest import audit_log_emptiable, count_all
from test_accounts import create, sign_in
from test_admin import post_form, profile_form
from test_staff_api import bearer, token_of

from samverkan import memo
from samverkan.audit.models import AuditEntry
from samverkan.cases.models import Case
from samverkan.cases.operations import carry_over_draft
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.clock import swedish_today
from samverkan.database_roles import maintenance_session
from samverkan.hub import statistics
from samverkan.hub.archive import archive_names
from samverkan.settings import PROJECT_ROOT
from samverkan.sync import sync
from samverkan.tenancy.models import Tenant

ADMIN = "nav@karlstad.example"
ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}
READ_ONLY = "Medlemmen är avslutad; ärendena kan bara läsas."
# Region Värmland: county code 17, organisation number 232100-0156 (FACTS.md).
REGION = {
    "name": "Region Värmland",
    "short_name": "Värmland",
    "kind": "region",
    "scb_code": "17",
    "orgnr": "2321000156",
    "slug": "region-varmland",
    "reference_prefix": "rvl",
    "member_since": "2026-01-01",
    "population_count": "283 548",
    "population_year": "2023",
    "population_source": "SCB, folkmängd 31 december 2023, via RegionFakta",
    "primary_colour": "#1d4f91",
    "accent_colour": "#f2c230",
    "website": "https://www.regionvarmland.se",
}
MEMBER_TABLES = (
    "attachments",
    "case_events",
    "cases",
    "reference_counters",
    "drafts",
    "outbox_messages",
    "audit_log",
    "api_tokens",
    "invitations",
    "memberships",
    "tenant_services",
)


def submit(client, member="arvika", service="synpunkter", answers=ANSWERS) -> dict:
    response = client.post(f"/api/v1/tenants/{member}/services/{service}/submissions", json=answers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def owner(app, sql: str, **params):
    """One statement as the owner, committed; its rows if it returns any."""
    with app.app_context(), maintenance_session() as session:
        result = session.execute(sa.text(sql), params)
        rows = result.all() if result.returns_rows else None
        session.commit()
        return rows


def member_id(app, slug: str) -> int:
    return owner(app, "SELECT id FROM tenants WHERE slug = :s", s=slug)[0][0]


def audit_actions(app, slug: str) -> list[str]:
    rows = owner(
        app,
        "SELECT action FROM audit_log WHERE tenant_id = :t"
        " AND action <> 'staff.role_granted' ORDER BY id",  # the tests' account set-up
        t=member_id(app, slug),
    )
    return [row[0] for row in rows]


@pytest.fixture
def hub_admin(app, client, read_csrf):
    """A client signed in as a hub administrator (staff of Karlstad with the hub role)."""
    assert create(app, ADMIN, tenant="karlstad", role="hub_admin").exit_code == 0
    assert sign_in(client, read_csrf, ADMIN, tenant="karlstad").status_code == 303
    return client


def csrf_of(client, read_csrf, path="/hub/medlemmar/ny") -> str:
    return read_csrf(client.get(path).text)


def export(client, member="arvika"):
    """Download the member's archive (closing the response, which closes its file)."""
    with client.get(f"/hub/medlemmar/{member}/export.zip") as response:
        response.data  # noqa: B018 - read before the file is closed
        return response


def table_row(html: str, table_id: str, name: str) -> list[str]:
    """The cells of the row headed `name` in the table after the heading `table_id`."""
    section = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    row = re.search(rf"<tr><th scope=\"row\">{re.escape(name)}</th>(.*?)</tr>", section)
    assert row, f"no row for {name}"
    return re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))


# -- the overview ----------------------------------------------------------------------------


def test_the_overview_shows_every_member_with_its_cases_per_month(app, client, hub_admin):
    for member in ("arvika", "arvika", "eda"):
        submit(app.test_client(), member)
    page = hub_admin.get("/hub/")
    assert page.status_code == 200
    html = page.text
    with app.app_context(), maintenance_session() as session:
        members = session.scalars(sa.select(Tenant)).all()
        switched_on = {
            t.slug: session.scalar(
                sa.select(sa.func.count())
                .select_from(TenantService)
                .where(TenantService.tenant_id == t.id, TenantService.enabled.is_(True))
            )
            for t in members
        }
    for member in members:
        assert member.name in html
    arvika = table_row(html, "arenden-tabell", "Arvika kommun")
    assert arvika[-2:] == ["2", "2"]  # this month, and the twelve months' total
    assert sum(int(c) for c in arvika[:-1]) == 2
    assert table_row(html, "arenden-tabell", "Eda kommun")[-1] == "1"
    assert table_row(html, "arenden-tabell", "Kils kommun")[-1] == "0"
    assert table_row(html, "arenden-tabell", "Alla medlemmar")[-1] == "3"
    row = re.search(r'id="medlem-arvika">(.*?)</tr>', html, re.S).group(1)
    assert f'<td class="amount">{switched_on["arvika"]}</td>' in row
    assert "2013-01-01" in row and "Aktiv" in row
    # The chart: one svg per member, described in words, a title on every bar.
    assert html.count('role="img"') == len(members)
    month = statistics.last_months(swedish_today())[-1].name
    assert 'aria-label="Arvika kommun: 2 ärenden från' in html
    assert f"<title>{month}: 2 ärenden</title>" in html
    assert "style=" not in html and "<script>" not in html
    # One audited read, in the hub's own log.
    assert audit_actions(app, "karlstad").count("hub.overview") == 1
    assert "hub.overview" not in audit_actions(app, "arvika")


def submitted_at(app, reference: str, moment: datetime) -> None:
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Case).where(Case.reference == reference).values(submitted_at=moment)
        )
        session.commit()


def test_months_are_swedish_calendar_months_across_daylight_saving(app, client):
    """00:30 on 1 April in Sweden (22:30 UTC on 31 March, summer time) is April's; 22:59
    on 31 March in Sweden is March's."""
    submitted_at(app, submit(client)["reference"], datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    submitted_at(app, submit(client)["reference"], datetime(2026, 3, 31, 20, 59, tzinfo=UTC))
    submitted_at(app, submit(client)["reference"], datetime(2025, 4, 30, 22, 0, tzinfo=UTC))
    months = statistics.last_months(date(2026, 4, 15))
    assert [m.start for m in months[-2:]] == [date(2026, 3, 1), date(2026, 4, 1)]
    arvika = member_id(app, "arvika")
    with app.app_context(), maintenance_session() as session:
        counts = statistics.cases_per_month(session, [arvika], months)
    assert counts[arvika][-2:] == [1, 1]
    assert counts[arvika][0] == 1  # 1 May 2025 at midnight in Sweden: the first month
    assert sum(counts[arvika]) == 3


def test_the_contact_centre_sees_its_way_in_but_no_members_figures(app, client, read_csrf):
    assert (
        create(app, "kc@karlstad.example", tenant="karlstad", role="contact_centre").exit_code == 0
    )
    assert sign_in(client, read_csrf, "kc@karlstad.example", tenant="karlstad").status_code == 303
    page = client.get("/hub/")
    assert page.status_code == 200
    assert "Till kontaktcentret" in page.text
    assert "Ärenden per månad" not in page.text
    assert "hub.overview" not in audit_actions(app, "karlstad")
    for path in ("/hub/medlemmar/ny", "/hub/e-tjanster", "/hub/medlemmar/arvika/export.zip"):
        assert client.get(path).status_code == 404


# -- onboarding ------------------------------------------------------------------------------


@pytest.fixture
def remove_region(app):
    """Take the onboarded member out again, with every row it got."""
    yield
    with app.app_context(), maintenance_session() as session:
        found = session.scalar(sa.select(Tenant.id).where(Tenant.slug == REGION["slug"]))
        if found is not None:
            with audit_log_emptiable(session):
                for table in MEMBER_TABLES:
                    session.execute(
                        sa.text(f"DELETE FROM {table} WHERE tenant_id = :t"),  # noqa: S608
                        {"t": found},
                    )
                session.execute(sa.text("DELETE FROM tenants WHERE id = :t"), {"t": found})
            session.commit()


@pytest.fixture
def regional_service(app):
    """An e-service for regions (the catalogue has none yet): synpunkter's questions under
    a name of its own, offered_to = ["region"], published as the hub would."""
    with app.app_context(), maintenance_session() as session:
        v1 = session.scalar(
            sa.select(ServiceDefinition).where(
                ServiceDefinition.slug == "synpunkter", ServiceDefinition.version == 1
            )
        )
        content = copy.deepcopy(v1.content)
        content.update(
            slug="regionens-synpunkter",
            offered_to=["region"],
            title={"sv": "Synpunkter till regionen", "en": "Feedback to the region"},
        )
        row = ServiceDefinition(
            slug="regionens-synpunkter",
            version=1,
            category_key=v1.category_key,
            content=content,
            checksum="test-region",
        )
        session.add(row)
        session.commit()
        made = row.id
    yield "regionens-synpunkter"
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.delete(TenantService).where(TenantService.definition_id == made))
        session.execute(sa.delete(ServiceDefinition).where(ServiceDefinition.id == made))
        session.commit()


def test_region_varmland_is_onboarded_with_what_is_for_regions_and_its_pages_work(
    app, client, hub_admin, read_csrf, regional_service, remove_region
):
    form = hub_admin.get("/hub/medlemmar/ny")
    assert form.status_code == 200
    # Förskoleplats needs the member's preschools first: offered, but off with a note.
    assert re.search(r'value="forskoleplats" disabled aria-describedby', form.text)
    assert "kräver förskolor" in form.text.lower()
    # Each e-service says whom it is for.
    assert 'Synpunkter och klagomål <span class="muted">(version 1, för kommuner)' in form.text
    assert 'Synpunkter till regionen <span class="muted">(version 1, för regioner)' in form.text
    tenants, switches = count_all(app, "tenants"), count_all(app, "tenant_services")
    municipal = hub_admin.post(
        "/hub/medlemmar/ny",
        data={
            "csrf_token": read_csrf(form.text),
            **REGION,
            "services": ["synpunkter", regional_service],
        },
    )
    assert municipal.status_code == 422
    assert (
        "Synpunkter och klagomål är en e-tjänst för kommuner: en region kan inte slå på den."
        in municipal.text
    )
    assert (count_all(app, "tenants"), count_all(app, "tenant_services")) == (tenants, switches)
    response = hub_admin.post(
        "/hub/medlemmar/ny",
        data={"csrf_token": read_csrf(form.text), **REGION, "services": [regional_service]},
    )
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith("/hub/#medlem-region-varmland")
    with app.app_context(), maintenance_session() as session:
        region = session.scalar(sa.select(Tenant).where(Tenant.slug == "region-varmland"))
        assert (region.kind, region.scb_code, region.orgnr) == ("region", "17", "232100-0156")
        assert region.reference_prefix == "RVL" and region.status == "active"
        assert region.member_since == date(2026, 1, 1)
        assert region.population == {
            "count": 283_548,
            "year": 2023,
            "source": REGION["population_source"],
        }
        switches = {
            s.service_slug: s.enabled
            for s in session.scalars(
                sa.select(TenantService).where(TenantService.tenant_id == region.id)
            )
        }
    # Only what is for regions is on its list at all: nothing municipal to switch on later.
    assert switches == {regional_service: True}
    # Its pages answer, and a submission starts its own series.
    home = client.get("/region-varmland/")
    assert home.status_code == 200 and "Region Värmland" in home.text
    assert "Synpunkter till regionen" in home.text and "Synpunkter och klagomål" not in home.text
    first = submit(client, "region-varmland", service=regional_service)
    assert re.fullmatch(rf"RVL-{swedish_today().year}-000001", first["reference"])
    refused = client.post(
        "/api/v1/tenants/region-varmland/services/synpunkter/submissions", json=ANSWERS
    )
    assert refused.status_code == 404
    # Audited in the hub's log, and the member's own log starts with it.
    assert "hub.member_onboarded" in audit_actions(app, "karlstad")
    assert audit_actions(app, "region-varmland")[0] == "hub.member_onboarded"
    # `flask sync` writes only members that have a file: the new one is left as it is.
    with app.app_context(), maintenance_session() as session:
        report = sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
        session.commit()
    assert not [line for line in report.lines() if "region-varmland" in line]
    assert (
        owner(
            app,
            "SELECT count(*) FROM tenant_services WHERE tenant_id = :t AND enabled = :on",
            t=member_id(app, "region-varmland"),
            on=True,
        )[0][0]
        == 1
    )
    assert client.get("/region-varmland/").status_code == 200
    # Its administrator is offered what is for regions; a municipal switch from before the
    # catalogue said whom each e-service is for cannot be switched on.
    assert (
        create(app, "admin@regionvarmland.example", "region-varmland", "tenant_admin").exit_code
        == 0
    )
    admin = app.test_client()
    signed_in = sign_in(admin, read_csrf, "admin@regionvarmland.example", tenant="region-varmland")
    assert signed_in.status_code == 303
    page = admin.get("/region-varmland/admin/e-tjanster")
    assert "gemensamma för medlemmarna i samverkan" in page.text
    assert "Synpunkter till regionen" in page.text and "Synpunkter och klagomål" not in page.text
    owner(
        app,
        "INSERT INTO tenant_services (tenant_id, service_slug, definition_id, enabled, "
        "settings, updated_at) SELECT :t, slug, id, :off, '{}', CURRENT_TIMESTAMP "
        "FROM service_definitions WHERE slug = 'synpunkter' AND version = 1",
        t=member_id(app, "region-varmland"),
        off=False,
    )
    switched = admin.post(
        "/region-varmland/admin/e-tjanster/synpunkter/vaxla",
        data={"csrf_token": read_csrf(page.text), "enabled": "on"},
    )
    assert switched.status_code == 422
    assert "E-tjänsten är inte för regioner, så den kan inte slås på här." in switched.text
    assert client.get("/region-varmland/e/synpunkter").status_code == 404


def test_onboarding_refuses_what_is_taken_or_wrong_field_by_field(
    app, hub_admin, read_csrf, remove_region
):
    tenants, switches = count_all(app, "tenants"), count_all(app, "tenant_services")

    def attempt(**changes):
        data = {"csrf_token": csrf_of(hub_admin, read_csrf), **REGION, **changes}
        response = hub_admin.post("/hub/medlemmar/ny", data=data)
        assert response.status_code == 422, response.status_code
        assert 'class="error-summary" role="alert"' in response.text
        return response.text

    taken = attempt(slug="arvika", reference_prefix="ARV", scb_code="1784", kind="municipality")
    assert "Adressnamnet används redan av Arvika kommun." in taken
    assert "Prefixet används redan av Arvika kommun." in taken
    assert "SCB-koden används redan av Arvika kommun." in taken
    assert 'id="f-slug" name="slug" type="text" value="arvika"' in taken
    orgnr = attempt(orgnr="232100-0157")
    assert "Organisationsnumret stämmer inte" in orgnr
    assert re.search(r'id="f-orgnr"[^>]*aria-describedby="f-orgnr-hint f-orgnr-error"', orgnr)
    colour = attempt(primary_colour="#ffcc00")
    assert "Kontrasten mot vit text är" in colour and "Välj en mörkare huvudfärg." in colour
    assert "Skriv huvudfärgen som #rrggbb" in attempt(primary_colour="blue")
    assert "En region har en tvåsiffrig länskod" in attempt(scb_code="1700")
    assert "99 är ingen länskod hos SCB" in attempt(scb_code="99")
    assert "99 är ingen länskod hos SCB" in attempt(kind="municipality", scb_code="9901")
    assert "En kommun har en fyrsiffrig kommunkod" in attempt(kind="municipality")
    for platforms_own in ("hub", "mina-arenden", "logga-in", "sprak", "healthz", "personal"):
        assert "en del av plattformens egna adresser" in attempt(slug=platforms_own)
    assert "a–z (utan å, ä, ö)" in attempt(slug="värmland")
    partial = attempt(population_source="")
    assert "Fyll i källan, eller lämna alla tre fälten tomma." in partial
    # A figure that is no number gets that one message, not also "fill it in".
    not_a_number = attempt(population_count="abc")
    assert "Skriv invånarantalet med siffror" in not_a_number
    assert "Fyll i invånarantalet, eller lämna alla tre fälten tomma." not in not_a_number
    # A membership before the platform, or one that has not begun.
    assert "Samverkan startade 2013-01-01" in attempt(member_since="1850-01-01")
    later = (swedish_today() + timedelta(days=30)).isoformat()
    assert "ange dagens datum eller ett tidigare" in attempt(member_since=later)
    not_for_regions = attempt(services=["forskoleplats"])
    assert "Ansökan om förskoleplats är en e-tjänst för kommuner" in not_for_regions
    # A new municipality (a code of Värmland's that no member has) gets it, but not on.
    needs_settings = attempt(services=["forskoleplats"], kind="municipality", scb_code="1799")
    assert (
        "Ansökan om förskoleplats kan slås på först när förskolor att välja bland är ifyllt."
        in needs_settings
    )
    assert count_all(app, "tenants") == tenants
    assert count_all(app, "tenant_services") == switches
    assert "hub.member_onboarded" not in audit_actions(app, "karlstad")


# -- offboarding -----------------------------------------------------------------------------


@pytest.fixture
def reopen_arvika(app):
    yield
    owner(
        app,
        "UPDATE tenants SET status = 'active', left_on = NULL, retention_months = NULL,"
        " profile_edited_at = NULL WHERE slug = 'arvika'",
    )


@pytest.fixture
def arvika_worker(app, read_csrf):
    """A browser signed in as a case worker at Arvika."""
    assert create(app, "anna@arvika.example").exit_code == 0
    browser = app.test_client()
    assert sign_in(browser, read_csrf, "anna@arvika.example").status_code == 303
    return browser


def test_the_export_holds_every_case_file_setting_person_and_log_entry(
    app, client, hub_admin, arvika_worker, read_csrf
):
    photo = tiny_png()
    with_photo = submit(
        client, service="felanmalan", answers={**FELANMALAN, "photo": as_upload("lampa.png", photo)}
    )
    plain = submit(client)
    page = arvika_worker.get(f"/arvika/staff/arenden/{plain['reference']}")
    noted = arvika_worker.post(
        f"/arvika/staff/arenden/{plain['reference']}/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "=Ring tillbaka på måndag"},
    )
    assert noted.status_code == 303

    # The member's retention decisions, and a case closed long ago: the archive says which
    # period applies to each case and when it falls due, as the member must go on applying.
    def decide(months, by_service) -> None:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant)
                .where(Tenant.slug == "arvika")
                .values(retention_months=months, retention_by_service=by_service)
            )
            session.commit()

    decide(24, {"felanmalan": 6})
    owner(
        app,
        "UPDATE cases SET status = 'closed', closed_at = :at WHERE reference = :r",
        at=datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
        r=plain["reference"],
    )
    try:
        response = export(hub_admin)
    finally:
        decide(None, {})
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    photo_path = f"attachments/{with_photo['reference']}/lampa.png"
    assert {
        "README.txt",
        "cases.json",
        "cases.csv",
        "settings.json",
        "definitions.json",
        "staff.csv",
        "audit_log.csv",
        photo_path,
    } <= names
    assert archive.read(photo_path) == photo
    assert "cases.json" in archive.read("README.txt").decode()
    cases = {c["reference"]: c for c in json.loads(archive.read("cases.json"))}
    assert set(cases) == {with_photo["reference"], plain["reference"]}
    attachment = cases[with_photo["reference"]]["attachments"][0]
    assert attachment["path"] == photo_path and attachment["size"] == len(photo)
    assert cases[with_photo["reference"]]["answers"]["description"] == FELANMALAN["description"]
    assert cases[plain["reference"]]["service"] == {
        "slug": "synpunkter",
        "version": 1,
        "title": "Synpunkter och klagomål",
    }
    assert cases[plain["reference"]]["thinned_at"] is None
    assert cases[plain["reference"]]["retention"] == {
        "months": 24,
        "set_for": "member",
        "counts_from": "2025-01-15T10:30:00+01:00",
        "due_at": "2027-01-15T10:30:00+01:00",
    }
    assert cases[with_photo["reference"]]["retention"] == {
        "months": 6,
        "set_for": "service",
        "counts_from": None,  # open, at a member still taking cases
        "due_at": None,
    }
    note = [e for e in cases[plain["reference"]]["history"] if e["kind"] == "note"]
    assert note[0]["message"] == "=Ring tillbaka på måndag"
    assert note[0]["visible_to_citizen"] is False
    rows = list(
        csv.reader(io.StringIO(archive.read("cases.csv").decode("utf-8-sig")), delimiter=";")
    )
    assert rows[0][0] == "Ärende" and {r[0] for r in rows[1:]} == set(cases)
    settings = json.loads(archive.read("settings.json"))
    assert settings["member"]["slug"] == "arvika"
    assert settings["member"]["population"]["count"] == 25682
    assert {s["slug"] for s in settings["services"]} >= {"synpunkter", "felanmalan"}
    assert settings["member"]["retention_months"] == 24
    by_slug = {s["slug"]: s for s in settings["services"]}
    assert by_slug["felanmalan"]["retention_months"] == 6
    assert by_slug["synpunkter"]["retention_months"] is None
    staff = archive.read("staff.csv").decode("utf-8-sig")
    assert "anna@arvika.example;Handläggare" in staff
    log = archive.read("audit_log.csv").decode("utf-8-sig")
    assert "case.noted" in log and "hub.member_exported" in log
    definitions = json.loads(archive.read("definitions.json"))
    assert {(d["slug"], d["version"]) for d in definitions} >= {
        ("synpunkter", 1),
        ("felanmalan", 1),
    }
    # The export is in the hub's log and in Arvika's own.
    assert "hub.member_exported" in audit_actions(app, "karlstad")
    assert "hub.member_exported" in audit_actions(app, "arvika")


def test_the_hub_members_export_holds_its_own_log_and_staff_not_the_hubs(
    app, client, hub_admin, read_csrf
):
    """At Karlstad the hub's entries (its reads of other members' cases, its exports)
    and its roles are the hub's, as Karlstad's own log page shows them: not in the
    archive Karlstad takes with it."""
    assert create(app, "eva@karlstad.example", tenant="karlstad").exit_code == 0
    arvika_case = submit(client)["reference"]
    with app.app_context(), maintenance_session() as session:
        karlstad = session.scalar(sa.select(Tenant.id).where(Tenant.slug == "karlstad"))
        session.add(
            AuditEntry(
                tenant_id=karlstad,
                actor="eva@karlstad.example",
                action="case.viewed",
                object_type="case",
                object_ref="KAR-2026-000001",
                detail={},
            )
        )
        session.commit()
    export(hub_admin, "arvika")  # a hub entry at Karlstad naming another member
    archive = zipfile.ZipFile(io.BytesIO(export(hub_admin, "karlstad").data))
    log = archive.read("audit_log.csv").decode("utf-8-sig")
    assert "KAR-2026-000001" in log  # Karlstad's own
    assert "member;arvika" not in log and arvika_case not in log
    assert "member;karlstad" in log  # the hub's export of Karlstad is Karlstad's to know
    staff = archive.read("staff.csv").decode("utf-8-sig")
    assert "eva@karlstad.example" in staff
    assert ADMIN not in staff and "Navets" not in staff


def test_attachment_names_in_the_archive_are_safe_and_unique():
    pdf, jpeg = "application/pdf", "image/jpeg"
    files = [
        SimpleNamespace(id=1, filename="intyg.pdf", content_type=pdf),
        SimpleNamespace(id=2, filename="Intyg.pdf", content_type=pdf),
        SimpleNamespace(id=3, filename="../../etc/passwd", content_type=pdf),
        SimpleNamespace(id=4, filename="..", content_type=pdf),
        SimpleNamespace(id=5, filename="C:\\Users\\anna\\foto.jpg", content_type=jpeg),
        # Named as its content is not: archived under the ending the content has.
        SimpleNamespace(id=6, filename="beslut.hta", content_type=pdf),
    ]
    assert archive_names("ARV-2026-000001", files) == {
        1: "attachments/ARV-2026-000001/intyg.pdf",
        2: "attachments/ARV-2026-000001/Intyg-2.pdf",
        3: "attachments/ARV-2026-000001/passwd.pdf",
        4: "attachments/ARV-2026-000001/fil.pdf",
        5: "attachments/ARV-2026-000001/foto.jpg",
        6: "attachments/ARV-2026-000001/beslut.pdf",
    }


def test_closing_a_member_after_its_export_leaves_its_cases_read_only(
    app, client, hub_admin, arvika_worker, read_csrf, reopen_arvika
):
    case = submit(client)
    page = "/hub/medlemmar/arvika/avsluta"

    def close(confirm=True):
        data = {"csrf_token": read_csrf(hub_admin.get(page).text)}
        if confirm:
            data["confirm"] = "ja"
        return hub_admin.post(page, data=data)

    def status():
        return owner(app, "SELECT status, left_on FROM tenants WHERE slug = 'arvika'")[0]

    refused = close()
    assert refused.status_code == 422
    assert "Exportera medlemmens data först (steg 1)." in refused.text
    assert export(hub_admin).status_code == 200
    submit(client)  # a case after the export: the archive would miss it
    assert "Exportera igen" in close().text
    assert export(hub_admin).status_code == 200
    unconfirmed = close(confirm=False)
    assert (
        unconfirmed.status_code == 422 and "Kryssa i att du har sparat exporten" in unconfirmed.text
    )
    # Without the member's own retention period its cases would stay here for good.
    assert "Arvika kommun har ingen gallringsfrist." in unconfirmed.text
    assert status()[0] == "active"
    # Its administrator decides one on the profile page: a change the export lacks.
    assert create(app, "admin@arvika.example", role="tenant_admin").exit_code == 0
    admin = app.test_client()
    assert sign_in(admin, read_csrf, "admin@arvika.example").status_code == 303
    profile = post_form(
        admin, read_csrf, "/arvika/admin/profil", profile_form(app, retention_months="24")
    )
    assert profile.status_code == 303
    stale = close(confirm=False).text
    assert "Arvika kommun har ingen gallringsfrist." not in stale
    assert "profil, inställningar eller medarbetare har ändrats sedan den senaste" in stale
    assert export(hub_admin).status_code == 200
    assert "Exportera igen" not in close(confirm=False).text
    assert "hub.member_offboarded" not in audit_actions(app, "karlstad")

    done = close()
    assert done.status_code == 303
    assert tuple(status()) in (("closed", swedish_today()), ("closed", swedish_today().isoformat()))
    assert "hub.member_offboarded" in audit_actions(app, "arvika")
    overview = hub_admin.get("/hub/").text
    assert "kvar till gallring" in overview
    # Counted as one that left, not as a member, and with no e-services on.
    assert "15 medlemmar i samverkan, och 1 som har lämnat." in overview
    arvika_row = re.search(r'<tr id="medlem-arvika">.*?</tr>', overview, re.S).group(0)
    assert '<td class="amount">–</td>' in arvika_row
    # Citizens: the pages are gone, with a page that says so.
    for path in (
        "/arvika/",
        "/arvika/e/synpunkter",
        f"/arvika/arende/{case['status_url'].rsplit('/', 1)[-1]}",
    ):
        gone = client.get(path)
        assert gone.status_code == 410, path
        assert "Arvika kommun har lämnat samverkan" in gone.text
    # What the controller tells citizens about the data it still keeps stays readable.
    for path in ("/arvika/integritet", "/arvika/tillganglighet"):
        kept = client.get(path)
        assert kept.status_code == 200 and "Arvika kommun" in kept.text, path
    assert client.get("/api/v1/tenants/arvika/services").status_code == 410
    refused_api = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=ANSWERS
    )
    assert refused_api.status_code == 410
    assert "arvika" not in {t["slug"] for t in client.get("/api/v1/tenants").get_json()}
    # Staff: they still sign in and read, and every change is refused with the reason.
    before = (count_all(app, "case_events"), count_all(app, "cases"), audit_actions(app, "arvika"))
    assert sign_in(app.test_client(), read_csrf, "anna@arvika.example").status_code == 303
    inbox = arvika_worker.get("/arvika/staff/")
    assert inbox.status_code == 200 and case["reference"] in inbox.text
    case_page = arvika_worker.get(f"/arvika/staff/arenden/{case['reference']}")
    assert case_page.status_code == 200
    assert "kan bara läsas" in case_page.text and "Spara status" not in case_page.text
    token = read_csrf(case_page.text)
    for action, data in (
        ("anteckning", {"note": "Efter avslut"}),
        ("status", {"status": "in_progress", "message": ""}),
        ("tilldela", {"assignee": "me"}),
    ):
        change = arvika_worker.post(
            f"/arvika/staff/arenden/{case['reference']}/{action}",
            data={"csrf_token": token, **data},
        )
        assert change.status_code == 409, action
        assert READ_ONLY in change.text
    profile = arvika_worker.post("/arvika/admin/profil", data={"csrf_token": token, "name": "X"})
    assert profile.status_code == 409
    api_change = client.post(
        f"/api/v1/tenants/arvika/cases/{case['reference']}/transitions",
        json={"status": "in_progress"},
        headers=bearer(token_of(app, "anna@arvika.example")),
    )
    assert api_change.status_code == 409 and api_change.get_json()["message"] == READ_ONLY
    assert (count_all(app, "case_events"), count_all(app, "cases")) == before[:2]
    # Only the reads (and the API key made to read with) were logged.
    logged = audit_actions(app, "arvika")[len(before[2]) :]
    assert set(logged) <= {"case.viewed", "token.created"} and "case.viewed" in logged
    # Closing twice is refused, and the hub itself cannot be closed.
    assert "redan avslutad" in close().text
    karlstad = hub_admin.post(
        "/hub/medlemmar/karlstad/avsluta",
        data={"csrf_token": read_csrf(hub_admin.get(page).text), "confirm": "ja"},
    )
    assert karlstad.status_code == 422 and "Navet kan inte avsluta sig självt." in karlstad.text


def test_a_closed_members_administrator_still_removes_staff(
    app, client, arvika_worker, read_csrf, reopen_arvika
):
    """Its cases are kept (read-only) until retention deletes them: whoever should no
    longer read them must be taken off, while every other change stays refused."""
    case = submit(client)
    token = read_csrf(arvika_worker.get(f"/arvika/staff/arenden/{case['reference']}").text)
    arvika_worker.post(
        f"/arvika/staff/arenden/{case['reference']}/tilldela",
        data={"csrf_token": token, "assignee": "me"},
    )
    assert create(app, "chef@arvika.example", role="tenant_admin").exit_code == 0
    admin = app.test_client()
    assert sign_in(admin, read_csrf, "chef@arvika.example").status_code == 303
    owner(
        app,
        "UPDATE tenants SET status = 'closed', left_on = :day, retention_months = 24"
        " WHERE slug = 'arvika'",
        day=swedish_today(),
    )
    anna = owner(app, "SELECT id FROM users WHERE email = 'anna@arvika.example'")[0][0]
    page = admin.get(f"/arvika/admin/personal/{anna}/ta-bort")
    promote = admin.post(
        f"/arvika/admin/personal/{anna}/roll",
        data={"csrf_token": read_csrf(page.text), "role": "tenant_admin"},
    )
    assert promote.status_code == 409  # giving more access is a change like any other
    removed = admin.post(
        f"/arvika/admin/personal/{anna}/ta-bort", data={"csrf_token": read_csrf(page.text)}
    )
    assert removed.status_code == 303
    assert arvika_worker.get("/arvika/staff/").status_code in (302, 303, 401, 403, 404)
    assert owner(
        app,
        "SELECT count(*) FROM memberships m JOIN tenants t ON t.id = m.tenant_id"
        " WHERE t.slug = 'arvika' AND m.user_id = :u",
        u=anna,
    ) == [(0,)]


# -- versions --------------------------------------------------------------------------------


@pytest.fixture
def synpunkter_v2(app):
    """Two newer versions of synpunkter as the hub would publish them: v2 with a new title
    and a changed question, v3 that also requires a setting nobody has."""
    with app.app_context(), maintenance_session() as session:
        v1 = session.scalar(
            sa.select(ServiceDefinition).where(
                ServiceDefinition.slug == "synpunkter", ServiceDefinition.version == 1
            )
        )
        top = session.scalar(
            sa.select(sa.func.max(ServiceDefinition.version)).where(
                ServiceDefinition.slug == "synpunkter"
            )
        )
        made = []
        for n, extra in ((1, False), (2, True)):
            content = copy.deepcopy(v1.content)
            content["version"] = top + n
            content["title"] = {"sv": f"Tyck till (version {top + n})", "en": "Feedback"}
            content["steps"][0]["fields"][0]["label"] = {"sv": "Vad gäller det nu?", "en": "What?"}
            if extra:
                content["settings"]["recipient"] = {
                    "type": "email",
                    "required": True,
                    "label": {"sv": "Mottagare", "en": "Recipient"},
                }
            row = ServiceDefinition(
                slug="synpunkter",
                version=top + n,
                category_key=v1.category_key,
                content=content,
                checksum=f"test-{top + n}",
            )
            session.add(row)
            made.append(row)
        session.commit()
        versions = {
            "v1": (v1.id, 1),
            "v2": (made[0].id, made[0].version),
            "v3": (made[1].id, made[1].version),
        }
    yield versions
    with app.app_context(), maintenance_session() as session:
        ids = [versions["v2"][0], versions["v3"][0]]
        session.execute(
            sa.update(TenantService)
            .where(TenantService.definition_id.in_(ids))
            .values(definition_id=versions["v1"][0])
        )
        for table in ("attachments", "case_events"):
            session.execute(
                sa.text(
                    f"DELETE FROM {table} WHERE case_id IN "  # noqa: S608
                    "(SELECT id FROM cases WHERE definition_id IN (:a, :b))"
                ),
                {"a": ids[0], "b": ids[1]},
            )
        for table in ("cases", "drafts"):
            session.execute(
                sa.text(f"DELETE FROM {table} WHERE definition_id IN (:a, :b)"),  # noqa: S608
                {"a": ids[0], "b": ids[1]},
            )
        session.execute(sa.delete(ServiceDefinition).where(ServiceDefinition.id.in_(ids)))
        session.commit()


def running(app, slug: str, service="synpunkter") -> int:
    return owner(
        app,
        "SELECT definition_id FROM tenant_services WHERE tenant_id = :t AND service_slug = :s",
        t=member_id(app, slug),
        s=service,
    )[0][0]


def move_arvika(app, definition_id: int) -> None:
    owner(
        app,
        "UPDATE tenant_services SET definition_id = :d"
        " WHERE tenant_id = :t AND service_slug = 'synpunkter'",
        d=definition_id,
        t=member_id(app, "arvika"),
    )
    memo.forget_all()  # as moving it in the app does (/hub/e-tjanster)


def arvikas_drafts(app) -> list[tuple]:
    return owner(
        app,
        "SELECT definition_id, answers, completed_steps FROM drafts WHERE tenant_id = :t",
        t=member_id(app, "arvika"),
    )


def test_a_citizens_answers_follow_to_a_new_version_and_they_are_told(
    app, client, read_csrf, synpunkter_v2
):
    """A new version that only fixed a text must not cost the citizen their answers: they
    follow, once, and the citizen is asked to check them."""
    step = "/arvika/e/synpunkter/steg/synpunkt"
    page = client.get(step)
    client.post(
        step, data={"csrf_token": read_csrf(page.text), "action": "spara", "message": "Hej"}
    )
    move_arvika(app, synpunkter_v2["v2"][0])
    told = client.get("/arvika/e/synpunkter").text
    assert "E-tjänsten har ändrats sedan du började fylla i den. Dina svar har följt med" in told
    assert "E-tjänsten har ändrats" not in client.get("/arvika/e/synpunkter").text  # once
    [(definition_id, answers, _done)] = arvikas_drafts(app)
    answers = answers if isinstance(answers, dict) else json.loads(answers)
    assert definition_id == synpunkter_v2["v2"][0] and answers == {"message": "Hej"}
    assert ">Hej</textarea>" in client.get(step).text


def test_answers_checked_on_the_old_version_are_sent_on_the_new_one_after_a_look(
    app, client, read_csrf, synpunkter_v2
):
    """The version changed between the check page and "Skicka": the answers follow, the
    citizen sees the check page again with a word, and sends them on the new version."""
    filled = {"kind": "klagomal", "area": "gata_park", "message": "Lampan är trasig."}
    first = client.get("/arvika/e/synpunkter/steg/synpunkt")
    answered = client.post(
        "/arvika/e/synpunkter/steg/synpunkt",
        data={"csrf_token": read_csrf(first.text), **filled},
    )
    second = client.get(answered.headers["Location"])
    checked = client.post(
        answered.headers["Location"],
        data={"csrf_token": read_csrf(second.text), "want_reply": "no"},
    )
    assert checked.headers["Location"].endswith("/arvika/e/synpunkter/kontrollera")
    token = read_csrf(client.get(checked.headers["Location"]).text)
    move_arvika(app, synpunkter_v2["v2"][0])
    again = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert again.status_code == 303
    assert again.headers["Location"].endswith("/arvika/e/synpunkter/kontrollera")
    page = client.get(again.headers["Location"]).text
    assert "Dina svar har följt med" in page and "Lampan är trasig." in page
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": read_csrf(page)})
    assert "/kvitto" in sent.headers["Location"]
    [(definition_id,)] = owner(
        app,
        "SELECT definition_id FROM cases WHERE tenant_id = :t ORDER BY id DESC LIMIT 1",
        t=member_id(app, "arvika"),
    )
    assert definition_id == synpunkter_v2["v2"][0]


def test_a_resume_link_from_before_a_new_version_still_opens_the_answers(
    app, client, read_csrf, synpunkter_v2
):
    """A link mailed before the member moved to a new version: another browser takes the
    draft up on the new version with its answers (it was a 410, the answers lost)."""
    step = "/arvika/e/synpunkter/steg/synpunkt"
    page = client.get(step)
    client.post(
        step,
        data={"csrf_token": read_csrf(page.text), "action": "spara", "message": "Sparat förut"},
    )
    saved = client.get("/arvika/e/synpunkter/sparat").text
    link = re.search(r'id="resume-link" href="http://localhost([^"]+)"', saved).group(1)
    move_arvika(app, synpunkter_v2["v2"][0])
    other = app.test_client()
    asked = other.get(link)
    assert asked.status_code == 200 and "Dina svar har följt med" in asked.text
    taken = other.post(link, data={"csrf_token": read_csrf(asked.text)})
    assert taken.status_code == 303 and taken.location.endswith(step)
    assert ">Sparat förut</textarea>" in other.get(step).text
    [(definition_id, _answers, _done)] = arvikas_drafts(app)
    assert definition_id == synpunkter_v2["v2"][0]


def test_a_file_the_new_version_refuses_is_deleted_with_the_answer(app, client, read_csrf):
    """A photo the new version no longer accepts (PNG dropped) does not follow, and the
    file goes from the disk with it: nothing left there that no draft names."""
    from test_save_and_resume import files_on_disk, upload_on_felanmalan

    root = Path(app.config["UPLOAD_ROOT"])
    before = files_on_disk(root)
    upload_on_felanmalan(client)
    [photo] = files_on_disk(root) - before
    with app.app_context(), maintenance_session() as session:
        v1 = session.scalar(
            sa.select(ServiceDefinition)
            .join(TenantService, TenantService.definition_id == ServiceDefinition.id)
            .where(
                TenantService.tenant_id == member_id(app, "arvika"),
                TenantService.service_slug == "felanmalan",
            )
        )
        content = copy.deepcopy(v1.content)
        content["version"] = v1.version + 100
        for step in content["steps"]:
            for spec in step["fields"]:
                if spec["name"] == "photo":
                    spec["accept"] = ["jpeg"]
        newer = ServiceDefinition(
            slug="felanmalan",
            version=v1.version + 100,
            category_key=v1.category_key,
            content=content,
            checksum="test-felanmalan-jpeg",
        )
        session.add(newer)
        session.commit()
        old_id, new_id = v1.id, newer.id
    move = (
        "UPDATE tenant_services SET definition_id = :d"
        " WHERE tenant_id = :t AND service_slug = 'felanmalan'"
    )
    try:
        owner(app, move, d=new_id, t=member_id(app, "arvika"))
        memo.forget_all()
        told = client.get("/arvika/e/felanmalan").text
        assert "några är nya eller ändrade" in told, re.findall(
            r"E-tjänsten har ändrats[^<]*", told
        )
        assert photo.exists() is False
        [(answers,)] = owner(
            app,
            "SELECT answers FROM drafts WHERE tenant_id = :t AND service_slug = 'felanmalan'",
            t=member_id(app, "arvika"),
        )
        answers = answers if isinstance(answers, dict) else json.loads(answers)
        assert answers == {"description": "Lampan lyser inte."}
    finally:
        owner(app, move, d=old_id, t=member_id(app, "arvika"))
        owner(app, "DELETE FROM drafts WHERE definition_id = :d", d=new_id)
        owner(app, "DELETE FROM service_definitions WHERE id = :d", d=new_id)
        memo.forget_all()


def test_an_answer_the_new_version_no_longer_takes_is_asked_again():
    """Carried over answer by answer: a choice whose option is gone, or a question whose
    type changed, does not follow, and its step is no longer done; the others follow."""
    content = tomllib.loads((PROJECT_ROOT / "services/synpunkter/definition.toml").read_text())
    newer = copy.deepcopy(content)
    kind = newer["steps"][0]["fields"][0]
    kind["options"] = [o for o in kind["options"] if o["value"] != "klagomal"]
    newer["steps"][0]["fields"][2]["type"] = "text"  # the message: no longer a textarea
    old, new = ServiceForm(content, {}), ServiceForm(newer, {})
    given = {"kind": "klagomal", "area": "gata_park", "message": "Hej", "want_reply": "no"}
    draft = SimpleNamespace(
        answers=old.to_json(old.validate(old.all_fields(), given).answers),
        completed_steps=["synpunkt", "svar"],
        definition_id=1,
    )
    flushed = []
    session = SimpleNamespace(flush=lambda: flushed.append(1))
    lost = carry_over_draft(session, draft, old, new, 2, Path("/nowhere"))  # no files
    assert lost == ["kind", "message"] and flushed == [1]
    assert draft.answers == {"area": "gata_park", "want_reply": "no"}
    assert draft.completed_steps == ["svar"] and draft.definition_id == 2


def test_members_move_to_a_new_version_and_old_cases_keep_theirs(
    app, client, hub_admin, arvika_worker, read_csrf, synpunkter_v2
):
    (v1, _), (v2, two), (_v3, three) = synpunkter_v2["v1"], synpunkter_v2["v2"], synpunkter_v2["v3"]
    old = submit(client)
    page = hub_admin.get("/hub/e-tjanster")
    assert page.status_code == 200
    section = page.text.split('id="tjanst-synpunkter"', 1)[1].split("</section>", 1)[0]
    assert f'<th scope="row">{two}</th>' in section and "Arvika" in section
    assert "hub.versions_viewed" in audit_actions(app, "karlstad")

    moved = hub_admin.post(
        "/hub/e-tjanster/synpunkter/flytta",
        data={
            "csrf_token": read_csrf(page.text),
            "version": str(two),
            "members": ["arvika", "eda"],
        },
    )
    assert moved.status_code == 303
    assert (running(app, "arvika"), running(app, "eda"), running(app, "kil")) == (v2, v2, v1)
    assert "hub.versions_moved" in audit_actions(app, "arvika")
    assert "hub.versions_moved" in audit_actions(app, "karlstad")
    # New submissions use v2; the case from v1 still shows as it was asked.
    assert f"Tyck till (version {two})" in client.get("/arvika/e/synpunkter").text
    new = submit(client)
    assert client.get(old["status_url"]).get_json()["service_version"] == 1
    status_page = client.get(f"/arvika/arende/{old['status_url'].rsplit('/', 1)[-1]}")
    assert status_page.status_code == 200
    assert "Synpunkter och klagomål" in status_page.text and "Tyck till" not in status_page.text
    staff_page = arvika_worker.get(f"/arvika/staff/arenden/{old['reference']}")
    assert staff_page.status_code == 200
    assert (
        "Synpunkter och klagomål" in staff_page.text and "Vad gäller det nu?" not in staff_page.text
    )
    assert (
        "Vad gäller det nu?" in arvika_worker.get(f"/arvika/staff/arenden/{new['reference']}").text
    )
    # v3 requires a setting Arvika has not set: refused by name, and nobody moves.
    refused = hub_admin.post(
        "/hub/e-tjanster/synpunkter/flytta",
        data={
            "csrf_token": read_csrf(page.text),
            "version": str(three),
            "members": ["eda", "arvika"],
        },
    )
    assert refused.status_code == 422
    assert (
        f"Arvika kommun saknar inställningen ”Mottagare” som version {three} kräver."
        in refused.text
    )
    assert "Eda kommun saknar inställningen" in refused.text
    assert (running(app, "arvika"), running(app, "eda")) == (v2, v2)
    for wrong, message in (
        ({"version": "99", "members": ["arvika"]}, "Version 99 finns inte"),
        ({"version": str(two)}, "Välj minst en medlem att flytta."),
        ({"version": str(two), "members": ["gotland"]}, "Det finns ingen medlem ”gotland”."),
    ):
        answer = hub_admin.post(
            "/hub/e-tjanster/synpunkter/flytta", data={"csrf_token": read_csrf(page.text), **wrong}
        )
        assert answer.status_code == 422 and message in answer.text
    assert (
        hub_admin.post(
            "/hub/e-tjanster/finns-inte/flytta",
            data={"csrf_token": read_csrf(page.text), "version": "1", "members": ["arvika"]},
        ).status_code
        == 404
    )
    # A sync publishes, it does not move: Arvika stays where the hub put it.
    with app.app_context(), maintenance_session() as session:
        sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
        session.commit()
    assert running(app, "arvika") == v2


# -- who may use these pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "role"),
    [("arvika", "tenant_admin"), ("karlstad", "tenant_admin"), ("arvika", "case_worker")],
)
def test_a_members_own_staff_get_404_on_every_hub_members_page(
    app, client, read_csrf, member, role
):
    email = f"{role}@{member}.example"
    assert create(app, email, tenant=member, role=role).exit_code == 0
    assert sign_in(client, read_csrf, email, tenant=member).status_code == 303
    token = read_csrf(client.get(f"/{member}/staff/").text)
    tenants = count_all(app, "tenants")
    for method, path in (
        ("GET", "/hub/"),
        ("GET", "/hub/medlemmar/ny"),
        ("POST", "/hub/medlemmar/ny"),
        ("GET", "/hub/medlemmar/arvika/avsluta"),
        ("POST", "/hub/medlemmar/arvika/avsluta"),
        ("GET", "/hub/medlemmar/arvika/export.zip"),
        ("GET", "/hub/medlemmar/eda/uppgifter"),
        ("POST", "/hub/medlemmar/eda/uppgifter"),
        ("GET", "/hub/e-tjanster"),
        ("POST", "/hub/e-tjanster/synpunkter/flytta"),
    ):
        data = {"csrf_token": token, **REGION, "confirm": "ja", "version": "1", "members": "arvika"}
        response = client.open(path, method=method, data=data if method == "POST" else None)
        assert response.status_code == 404, (method, path)
    assert count_all(app, "tenants") == tenants
    assert owner(app, "SELECT status FROM tenants WHERE slug = 'arvika'")[0][0] == "active"
    assert not [a for a in audit_actions(app, "karlstad") if a.startswith("hub.")]


def test_a_look_across_members_keeps_no_one_waiting(app, client):
    """While the hub reads across members, a citizen's submission still goes through at
    once (on SQLite the read holds no write lock; its audit entry was committed first)."""
    from samverkan.hub.across import across_members

    with app.test_request_context("/hub/"), across_members("hub.overview", "members") as session:
        session.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
        response = client.post(
            "/api/v1/tenants/kil/services/synpunkter/submissions",
            json={"kind": "fraga", "area": "annat", "message": "Hej", "want_reply": "no"},
        )
        assert response.status_code == 201


def test_the_hubs_swedish_pages_are_marked_swedish_on_an_english_page(client, hub_admin):
    hub_admin.get("/sprak/en?next=/hub/")
    page = hub_admin.get("/hub/").text
    assert '<html lang="en">' in page
    assert '<div lang="sv">\n<nav class="staff-nav" aria-label="Navet">' in page
    assert '<a class="skip-link" href="#innehall">' in page


def test_the_hub_records_a_members_organisation_number_and_population(
    app, client, hub_admin, read_csrf, region_varmland
):
    """A member made on the hub's pages could never get the organisation number it did not
    have yet, nor the population of a new year: cost pools by population read it."""
    page = f"/hub/medlemmar/{region_varmland}/uppgifter"
    form = hub_admin.get(page)
    assert form.status_code == 200
    assert 'id="f-population_count" name="population_count" type="text" value="283548"' in form.text

    def post(**data):
        full = {
            "csrf_token": read_csrf(form.text),
            "orgnr": "",
            "population_count": "283 548",
            "population_year": "2023",
            "population_source": "SCB, folkmängd 31 december 2023",
            **data,
        }
        return hub_admin.post(page, data=full)

    wrong = post(orgnr="232100-0157", population_source="")
    assert wrong.status_code == 422
    assert "Organisationsnumret stämmer inte" in wrong.text
    assert "Fyll i källan, eller lämna alla tre fälten tomma." in wrong.text
    taken = post(orgnr=owner(app, "SELECT orgnr FROM tenants WHERE slug = 'karlstad'")[0][0])
    assert taken.status_code == 422 and "används redan av Karlstads kommun" in taken.text
    # Its organisation number and the 2022 figure (FACTS.md), as a correction.
    saved = post(
        orgnr="2321000156",
        population_count="283 976",
        population_year="2022",
        population_source="SCB, folkmängd 31 december 2022, via RegionFakta",
    )
    assert saved.status_code == 303
    assert owner(
        app,
        "SELECT orgnr, population_count, population_year FROM tenants WHERE slug = :s",
        s=region_varmland,
    )[0] == ("232100-0156", 283_976, 2022)
    with app.app_context(), maintenance_session() as session:
        entry = session.scalar(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "hub.member_facts_changed")
            .order_by(AuditEntry.id.desc())
        )
    assert entry.detail["changes"]["population_count"] == {"from": 283_548, "to": 283_976}
    assert entry.detail["changes"]["orgnr"] == {"from": None, "to": "232100-0156"}
    # A member whose file holds its facts is changed in the file: the sync would undo it.
    arvika = hub_admin.get("/hub/medlemmar/arvika/uppgifter")
    assert "kommer från filen <code>tenants/arvika.toml</code>" in arvika.text
    assert "Spara uppgifterna" not in arvika.text  # no form that can only be refused
    refused = hub_admin.post(
        "/hub/medlemmar/arvika/uppgifter",
        data={
            "csrf_token": read_csrf(form.text),
            "population_count": "1",
            "population_year": "2024",
            "population_source": "Test",
        },
    )
    assert refused.status_code == 422
    assert "ändra dem där och kör flask sync" in refused.text
    assert owner(app, "SELECT population_count FROM tenants WHERE slug = 'arvika'")[0][0] == 25682


def test_an_export_older_than_a_sync_of_the_members_file_does_not_close_it(
    app, hub_admin, read_csrf, reopen_arvika, resync, tmp_path
):
    """The sync changes a member's row and switches without a log entry: an export made
    before it lacks what it wrote."""
    owner(app, "UPDATE tenants SET retention_months = 24 WHERE slug = 'arvika'")
    assert export(hub_admin).status_code == 200
    tenants = shutil.copytree(PROJECT_ROOT / "tenants", tmp_path / "tenants")
    arvika = tenants / "arvika.toml"
    text = arvika.read_text().replace(
        "draft_days = 30\n", "draft_days = 30\nretention_months = 24\n"
    )
    # The population's source changes, which the sync always writes (the profile it leaves
    # to administrators who took it over) and does not log; the retention decision stays.
    old_source = 'source = "SCB, folkmängd 31 december 2023, via RegionFakta"'
    assert old_source in text
    arvika.write_text(text.replace(old_source, 'source = "SCB, folkmängd 2023"'))
    with app.app_context(), maintenance_session() as session:
        report = sync(session, tenants, PROJECT_ROOT / "services")
        session.commit()
    assert report.updated == ["tenant arvika (population_source)"]
    page = "/hub/medlemmar/arvika/avsluta"
    refused = hub_admin.post(
        page, data={"csrf_token": read_csrf(hub_admin.get(page).text), "confirm": "ja"}
    )
    assert refused.status_code == 422 and "har ändrats sedan den senaste exporten" in refused.text
    assert owner(app, "SELECT status FROM tenants WHERE slug = 'arvika'")[0][0] == "active"
