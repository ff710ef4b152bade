"""Every member publishes an accessibility statement and a privacy notice, built from what the
platform does and what the member has recorded (never made-up contact details), and every
public page links to both."""

import re
import tomllib

import pytest
import sqlalchemy as sa

from samverkan.database_roles import maintenance_session
from samverkan.settings import PROJECT_ROOT
from samverkan.tenancy.models import Tenant

MEMBERS = {
    path.stem: tomllib.loads(path.read_text()) for path in (PROJECT_ROOT / "tenants").glob("*.toml")
}
DIGG = 'href="https://www.digg.se/tdosanmalan"'


@pytest.fixture
def member_row(app):
    """Change a member's row directly (before the test's first request to it); put back the
    columns changed afterwards."""
    changed = []

    def change(slug: str, **values):
        with app.app_context(), maintenance_session() as session:
            row = session.scalar(sa.select(Tenant).filter_by(slug=slug))
            changed.append((slug, {key: getattr(row, key) for key in values}))
            session.execute(sa.update(Tenant).where(Tenant.slug == slug).values(**values))
            session.commit()

    yield change
    with app.app_context(), maintenance_session() as session:
        for slug, before in reversed(changed):
            session.execute(sa.update(Tenant).where(Tenant.slug == slug).values(**before))
        session.commit()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("slug", sorted(MEMBERS))
def test_each_member_has_an_accessibility_statement_with_a_way_to_report(client, slug):
    member = MEMBERS[slug]
    page = client.get(f"/{slug}/tillganglighet")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Tillgänglighetsredogörelse" in words
    assert f"{member['name']} står bakom e-tjänsterna" in words
    # Conformance status, the standard, and the known problems.
    assert "delvis förenliga" in words and "WCAG 2.1 nivå AA" in words
    assert "Kända brister" in words
    # How to report a problem: the feedback e-service, and the member's own website.
    assert f'href="/{slug}/e/synpunkter"' in page.text
    assert f'href="{member["contact"]["website"]}"' in page.text
    # Where to turn after that: Digg, which supervises the law.
    assert DIGG in page.text and "Myndigheten för digital förvaltning (Digg)" in words
    # Only recorded contact details: no member file has an e-mail address or phone.
    assert "E-post:" not in words and "Telefon:" not in words


@pytest.mark.parametrize("slug", sorted(MEMBERS))
def test_each_member_has_a_privacy_notice_naming_it_as_controller(client, slug):
    member = MEMBERS[slug]
    page = client.get(f"/{slug}/integritet")
    assert page.status_code == 200
    words = text_of(page.text)
    assert f"{member['name']} " in words and "är personuppgiftsansvarig" in words
    if member.get("orgnr"):
        assert f"organisationsnummer {member['orgnr']}" in words
    else:
        assert "organisationsnummer" not in words  # unknown, so not shown
    if member["hub"]:
        assert "driver också den gemensamma e-tjänsteplattformen" in words
    else:
        assert "Karlstads kommun driver den gemensamma e-tjänsteplattformen" in words
        assert "personuppgiftsbiträde" in words
    for heading in (
        "Varför vi behandlar uppgifterna",
        "Hur länge uppgifterna sparas",
        "Dina rättigheter",
        "Registerutdrag",
        "Kontakt och klagomål",
    ):
        assert heading in words
    assert 'href="https://www.imy.se"' in page.text
    # No retention decided in the member files: nothing is said to be deleted.
    assert "har ännu inte beslutat" in words


def test_the_retention_the_member_decided_is_what_the_notice_says(client, member_row):
    member_row("eda", retention_months=24, retention_by_service={"synpunkter": 6})
    words = text_of(client.get("/eda/integritet").text)
    assert "Synpunkter och klagomål: 6 månader efter att ärendet avslutats" in words
    assert (
        "Felanmälan gata, park och belysning: 24 månader (2 år) efter att ärendet avslutats"
        in words
    )
    assert "har ännu inte beslutat" not in words


def test_recorded_contact_details_and_the_members_own_text_are_shown(client, member_row):
    member_row(
        "eda",
        email="kontakt@eda.example",
        phone="0571-280 00",
        accessibility_statement="Vi granskar e-tjänsterna\nvarje år.\n\nFråga <oss>.",
    )
    page = client.get("/eda/tillganglighet")
    words = text_of(page.text)
    assert 'href="mailto:kontakt@eda.example"' in page.text and "0571-280 00" in words
    assert "Mer från Eda kommun" in words
    assert "<p>Fråga &lt;oss&gt;.</p>" in page.text  # plain text, escaped
    assert "Mer från" not in client.get("/arvika/tillganglighet").text


def test_without_the_feedback_e_service_the_statement_still_gives_a_way(client, switched_off):
    page = client.get("/arvika/tillganglighet")
    assert "/arvika/e/synpunkter" not in page.text
    assert 'href="https://www.arvika.se"' in page.text and "Du kan också kontakta" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/arvika/",
        "/arvika/e/forskoleplats",
        "/arvika/e/forskoleplats/steg/barn",
        "/arvika/tillganglighet",
        "/arvika/integritet",
        "/arvika/staff/logga-in",
    ],
)
def test_every_public_page_links_to_both_in_its_footer(client, path):
    page = client.get(path)
    assert page.status_code == 200
    footer = page.text.split('<footer class="site-footer">')[1]
    # The platform's own pages give the hub's, which runs the platform.
    member = "karlstad" if path == "/" else "arvika"
    assert f'href="/{member}/tillganglighet">Tillgänglighetsredogörelse</a>' in footer
    assert f'href="/{member}/integritet">Integritetsmeddelande</a>' in footer
