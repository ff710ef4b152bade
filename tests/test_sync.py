"""tenants/ and services/ into the database: validated first, all or nothing, idempotent."""

import shutil
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.settings import PROJECT_ROOT
from samverkan.sync import SyncError, sync
from samverkan.tenancy.models import Tenant


@pytest.fixture
def files(tmp_path):
    """Copies of tenants/ and services/ that a test may break."""
    tenants = shutil.copytree(PROJECT_ROOT / "tenants", tmp_path / "tenants")
    services = shutil.copytree(PROJECT_ROOT / "services", tmp_path / "services")
    return tenants, services


@pytest.fixture
def unpublished(app):
    """After a test that published versions beyond services/: every switch back on the
    version services/ has, the newer versions gone, and the files synced again."""
    yield
    with app.app_context(), maintenance_session() as session:
        for slug, version in (("forskoleplats", 2), ("synpunkter", 1)):
            session.execute(
                sa.text(
                    "UPDATE tenant_services SET definition_id = (SELECT id FROM "
                    "service_definitions WHERE slug = :slug AND version = :v) "
                    "WHERE service_slug = :slug"
                ),
                {"slug": slug, "v": version},
            )
            session.execute(
                sa.text("DELETE FROM service_definitions WHERE slug = :slug AND version > :v"),
                {"slug": slug, "v": version},
            )
        session.execute(sa.text("UPDATE tenant_services SET edited_at = NULL"))
        sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
        session.commit()


def snapshot(app) -> list:
    with app.app_context(), maintenance_session() as session:
        tenants = session.execute(
            sa.select(Tenant.slug, Tenant.name, Tenant.primary_colour).order_by(Tenant.slug)
        ).all()
        switches = session.execute(
            sa.select(
                TenantService.tenant_id, TenantService.service_slug, TenantService.enabled
            ).order_by(TenantService.tenant_id, TenantService.service_slug)
        ).all()
        definitions = session.execute(
            sa.select(ServiceDefinition.slug, ServiceDefinition.version, ServiceDefinition.checksum)
        ).all()
        return [tenants, switches, definitions]


def run_sync(app, tenants, services):
    with app.app_context(), maintenance_session() as session:
        return sync(session, tenants, services)  # never committed


def test_all_sixteen_members_are_synced_with_facts(app):
    with app.app_context():
        members = {t.slug: t for t in db.session.scalars(sa.select(Tenant))}
    assert len(members) == 16
    assert sum(t.population_count for t in members.values()) == 283_548
    assert [slug for slug, t in members.items() if t.is_hub] == ["karlstad"]
    assert members["karlstad"].orgnr == "212000-1850"
    assert all(t.orgnr is None for slug, t in members.items() if slug != "karlstad")
    assert members["munkfors"].scb_code == "1762"
    assert members["munkfors"].population_count == 3669
    assert members["arvika"].reference_prefix == "ARV"
    assert len({t.reference_prefix for t in members.values()}) == 16


def test_sync_twice_changes_nothing(app):
    before = snapshot(app)
    with app.app_context(), maintenance_session() as session:
        report = sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
        session.commit()
    assert report.created == [] and report.updated == []
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "tenants/arvika.toml",
            'reference_prefix = "ARV"',
            'reference_prefix = "arv"',
            "tenants/arvika.toml: reference_prefix:",
        ),
        (
            "tenants/eda.toml",
            'scb_code = "1730"',
            'scb_code = "1784"',
            "tenants/eda.toml: scb_code: '1784' is already used by tenants/arvika.toml",
        ),
        (
            "tenants/kil.toml",
            "[branding]",
            '[branding]\nprimary_colour = "#ffff00"\n[ignored]',
            "tenants/kil.toml: branding.primary_colour: white text on #ffff00 has contrast",
        ),
        (
            "tenants/hagfors.toml",
            "[branding]",
            '[branding]\nprimary_colour = "#757575"\n[ignored]',
            "#757575 as text on the panel colour #f3f2f1 has contrast",
        ),
        (
            "tenants/grums.toml",
            "[services.felanmalan]",
            "[services.bygglov]\nenabled = true\n[services.felanmalan]",
            "tenants/grums.toml: services.bygglov: there is no e-service 'bygglov'",
        ),
        (
            "tenants/sunne.toml",
            "preschools = [",
            "preschool_list = [",
            "tenants/sunne.toml: services.forskoleplats.settings.",
        ),
        ("tenants/torsby.toml", 'slug = "torsby"', 'slug = "torsby"\nslug = "x"', "not valid TOML"),
        (
            "services/synpunkter/definition.toml",
            'type = "textarea"',
            'type = "essay"',
            "services/synpunkter/definition.toml: ",
        ),
        (
            "services/forskoleplats/definition.toml",
            'type = "list"\nrequired = true',
            'type = "list"\nrequired = false',
            "services/forskoleplats/definition.toml: steps[2].fields[1].options_setting: "
            "'preschools' feeds a required field, so it must be required too",
        ),
        (
            "services/forskoleplats/definition.toml",
            '[settings.intro]\ntype = "textarea"',
            '[settings.intro]\ntype = "essay"',
            "services/forskoleplats/definition.toml: settings.intro.type: ",
        ),
        (
            "services/felanmalan/definition.toml",
            'category = "gata-trafik"',
            'category = "okand"',
            "services/felanmalan/definition.toml: category: 'okand' is not in",
        ),
        (
            "services/felanmalan/definition.toml",
            'audience = "all"',
            'audience = "all"\noffered_to = ["county"]',
            "services/felanmalan/definition.toml: offered_to[0]: Must be one of: "
            "municipality, region.",
        ),
        (
            "services/felanmalan/definition.toml",
            'audience = "all"',
            'audience = "all"\noffered_to = []',
            "services/felanmalan/definition.toml: offered_to: name at least one kind of member",
        ),
        (
            "tenants/grums.toml",
            "member_since = 2013-01-01",
            "",
            "tenants/grums.toml: member_since: when the member joined decides the costs it "
            "shares: write the date it joined without quotes, like 2027-01-01",
        ),
        (
            "tenants/grums.toml",
            'slug = "grums"',
            'slug = "mina-arenden"',
            "tenants/grums.toml: slug: 'mina-arenden' is an address of the platform's own",
        ),
        (
            "tenants/grums.toml",
            'scb_code = "1764"',
            'scb_code = "9964"',
            "tenants/grums.toml: scb_code: '99' is no county code of SCB's (Värmland is 17)",
        ),
        (
            "tenants/arvika.toml",
            '"Förskoleområde norr", ',
            '"Förskoleområde norr", "Förskoleområde Norr", ',
            "'Förskoleområde Norr' is listed twice",
        ),
    ],
)
def test_a_broken_file_is_refused_naming_file_and_field_and_nothing_changes(
    app, files, file, old, new, message
):
    tenants, services = files
    path = tenants.parent / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    # A change elsewhere that would otherwise be written must not be written either.
    other = tenants / "saffle.toml"
    other.write_text(other.read_text().replace('name = "Säffle kommun"', 'name = "Säffle stad"'))
    before = snapshot(app)
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert any(message in line for line in failure.value.errors), failure.value.errors
    assert snapshot(app) == before


def test_a_published_version_cannot_change_without_a_new_version(app, files):
    tenants, services = files
    path = services / "synpunkter" / "definition.toml"
    path.write_text(path.read_text().replace("Synpunkter och klagomål", "Synpunkter", 1))
    before = snapshot(app)
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert "services/synpunkter/definition.toml: version: version 1 is already published" in str(
        failure.value
    )
    assert snapshot(app) == before


def test_a_new_version_is_published_and_members_stay_until_the_hub_moves_them(
    app, files, unpublished
):
    tenants, services = files
    path = services / "synpunkter" / "definition.toml"
    text = path.read_text().replace("version = 1", "version = 2", 1)
    path.write_text(text.replace("Synpunkter och klagomål", "Synpunkter och klagomål (ny)", 1))
    with app.app_context(), maintenance_session() as session:
        report = sync(session, tenants, services)
        session.commit()
        versions = db.session.scalars(
            sa.select(ServiceDefinition.version).filter_by(slug="synpunkter")
        ).all()
        running = (
            db.session.execute(
                sa.text(
                    "SELECT d.version FROM tenant_services s JOIN service_definitions d "
                    "ON d.id = s.definition_id WHERE s.service_slug = 'synpunkter'"
                )
            )
            .scalars()
            .all()
        )
    assert "definition synpunkter v2" in report.created
    assert sorted(versions) == [1, 2]
    assert set(running) <= {1}  # moving members is the hub's decision (/hub/e-tjanster)


def _options_at(app, member: str) -> list:
    from samverkan.catalogue.engine import ServiceForm

    with app.app_context(), maintenance_session() as session:
        switch = session.execute(
            sa.select(TenantService, ServiceDefinition)
            .join(Tenant, Tenant.id == TenantService.tenant_id)
            .join(ServiceDefinition, ServiceDefinition.id == TenantService.definition_id)
            .where(Tenant.slug == member, TenantService.service_slug == "forskoleplats")
        ).one()
        form = ServiceForm(switch.ServiceDefinition.content, switch.TenantService.settings)
        field = next(f for s in form.steps for f in s["fields"] if f["name"] == "preschool_wishes")
        return [value for value, _ in form.options(field)]


def test_a_version_that_renames_a_setting_leaves_members_on_the_old_one_working(
    app, files, unpublished
):
    """Renaming a setting in a new version made every member file fail the check against
    it, and once renamed there the sync gave the members still on the old version a
    required choice with no options: no preschool application could be sent."""
    from samverkan.hub.operations import move_members

    tenants, services = files
    path = services / "forskoleplats" / "definition.toml"
    text = path.read_text().replace("version = 2", "version = 3", 1)
    text = text.replace("[settings.preschools]", "[settings.units]", 1)
    path.write_text(text.replace('options_setting = "preschools"', 'options_setting = "units"'))
    before = _options_at(app, "arvika")
    assert before  # the member's five areas
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, services)  # published; every file still says preschools
        session.commit()
    assert _options_at(app, "arvika") == before
    # Arvika's file drops the name its version needs: refused, naming the version.
    arvika = tenants / "arvika.toml"
    arvika_text = arvika.read_text()
    arvika.write_text(arvika_text.replace("preschools = [", "units = [", 1))
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert (
        "tenants/arvika.toml: services.forskoleplats.settings.preschools: Missing data for "
        "required field. (version 2, which arvika is on)"
    ) in failure.value.errors
    # Both names while it moves: the hub moves it, and the new name is what it reads.
    both = arvika_text.replace("preschools = [", 'units = ["Nya området"]\npreschools = [', 1)
    arvika.write_text(both)
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, services)
        move_members(session, "forskoleplats", 3, ["arvika"])
        session.commit()
    assert _options_at(app, "arvika") == ["Nya området"]
    # A name no version ever declared is still a typo.
    arvika.write_text(both.replace("units = [", "unitz = [", 1))
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert (
        "tenants/arvika.toml: services.forskoleplats.settings.unitz: no version of "
        "forskoleplats declares this setting"
    ) in failure.value.errors


def test_a_version_that_requires_a_new_setting_is_published_and_members_move_when_ready(
    app, files, unpublished
):
    """Every member file had to hold the new setting before the version could even be
    published, so the hub's refusal to move a member lacking it could never be reached."""
    from samverkan.hub.operations import HubError, move_members

    tenants, services = files
    path = services / "synpunkter" / "definition.toml"
    text = path.read_text().replace("version = 1", "version = 2", 1)
    path.write_text(
        text.replace(
            "[[steps]]",
            '[settings.recipient]\ntype = "email"\nrequired = true\n'
            'label = { sv = "Mottagare", en = "Recipient" }\n\n[[steps]]',
            1,
        )
    )
    with app.app_context(), maintenance_session() as session:
        # Eda's administrators took its switch over in the app: the file is not checked for
        # it (it was, against the newest version, which Eda is not on).
        eda = session.scalar(sa.select(Tenant.id).filter_by(slug="eda"))
        session.get(TenantService, (eda, "synpunkter")).edited_at = datetime.now(UTC)
        report = sync(session, tenants, services)
        session.commit()
    assert "definition synpunkter v2" in report.created
    with app.app_context(), maintenance_session() as session:
        with pytest.raises(HubError) as refused:
            move_members(session, "synpunkter", 2, ["arvika"])
        session.rollback()
    assert "Arvika" in str(refused.value.errors)
    arvika = tenants / "arvika.toml"
    arvika.write_text(
        arvika.read_text().replace(
            "[services.synpunkter]\nenabled = true",
            "[services.synpunkter]\nenabled = true\n[services.synpunkter.settings]\n"
            'recipient = "synpunkter@arvika.example"',
            1,
        )
    )
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, services)
        move_members(session, "synpunkter", 2, ["arvika"])
        session.commit()


def test_sync_command_reports_errors_and_exits_non_zero(app, files):
    tenants, services = files
    (tenants / "arvika.toml").write_text('slug = "arvika"\n')
    app.config.update(TENANTS_DIR=str(tenants), SERVICES_DIR=str(services))
    try:
        result = app.test_cli_runner().invoke(args=["sync"])
    finally:
        app.config.update(
            TENANTS_DIR=str(PROJECT_ROOT / "tenants"), SERVICES_DIR=str(PROJECT_ROOT / "services")
        )
    assert result.exit_code == 1
    assert "tenants/arvika.toml: name: Missing data for required field." in result.output
    assert "nothing was changed" in result.output


def test_services_check_lists_every_definition(app):
    result = app.test_cli_runner().invoke(args=["services", "check"])
    assert result.exit_code == 0
    for slug, version in (
        ("felanmalan", 1),
        ("forskoleplats", 2),
        ("parkeringstillstand", 1),
        ("synpunkter", 1),
        ("varmepump", 2),
        ("skolskjuts", 1),
    ):
        assert f"ok  {slug} v{version}" in result.output


def test_a_service_taken_out_of_a_members_file_is_switched_off(app, files, resync):
    tenants, services = files
    path = tenants / "filipstad.toml"
    text = path.read_text()
    start = text.index("[services.synpunkter]")
    end = text.find("\n[services.", start + 1)
    path.write_text(text[:start] + (text[end + 1 :] if end != -1 else ""))
    with app.app_context(), maintenance_session() as session:
        report = sync(session, tenants, services)
        session.commit()
    assert "filipstad: service synpunkter (switched off)" in report.updated
    with app.test_client() as client:
        assert client.get("/filipstad/e/synpunkter").status_code == 404
        assert client.get("/filipstad/e/felanmalan").status_code == 200


def test_the_sync_leaves_a_member_that_has_left_as_it_was(app, resync):
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "grums").values(status="closed", phone="0555-1")
        )
        session.commit()
        try:
            sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
            session.commit()
            phone = session.scalar(sa.select(Tenant.phone).filter_by(slug="grums"))
        finally:
            session.execute(sa.update(Tenant).where(Tenant.slug == "grums").values(status="active"))
            session.commit()
    assert phone == "0555-1"  # not put back from tenants/grums.toml


def test_a_version_published_by_mistake_is_withdrawn_while_nothing_uses_it(app, files, unpublished):
    """Reverting services/ left the mistaken version in the database, offered by the
    hub's onboarding and versions pages."""
    tenants, services = files
    path = services / "synpunkter" / "definition.toml"
    path.write_text(path.read_text().replace("version = 1", "version = 2", 1))
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, services)
        session.commit()
    cli = app.test_cli_runner()
    used = cli.invoke(args=["services", "withdraw", "synpunkter", "1"])
    assert used.exit_code == 1 and "synpunkter v1 is in use (16 member switch(es))" in used.output
    assert cli.invoke(args=["services", "withdraw", "synpunkter", "7"]).exit_code == 1
    done = cli.invoke(args=["services", "withdraw", "synpunkter", "2"])
    assert done.exit_code == 0 and "synpunkter v2 is withdrawn" in done.output
    with app.app_context(), maintenance_session() as session:
        versions = session.scalars(
            sa.select(ServiceDefinition.version).filter_by(slug="synpunkter")
        ).all()
        logged = session.execute(
            sa.text(
                "SELECT object_ref, actor FROM audit_log WHERE action = 'hub.version_withdrawn'"
            )
        ).all()
    assert versions == [1]
    assert logged == [("synpunkter v2", "cli")]


def _region_file(tenants, services: dict[str, str]) -> None:
    """tenants/region-varmland.toml: Region Värmland (FACTS.md) with these switches on."""
    text = (tenants / "arvika.toml").read_text().split("[services.", 1)[0]
    for old, new in (
        ('slug = "arvika"', 'slug = "region-varmland"'),
        ('name = "Arvika kommun"', 'name = "Region Värmland"'),
        ('short_name = "Arvika"', 'short_name = "Värmland"'),
        ('kind = "municipality"', 'kind = "region"'),
        ('scb_code = "1784"', 'scb_code = "17"'),
        ('reference_prefix = "ARV"', 'reference_prefix = "RVL"'),
        ("count = 25682", "count = 283548"),
        ('website = "https://www.arvika.se"', 'website = "https://www.regionvarmland.se"'),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    for service in services:
        text += f"\n[services.{service}]\nenabled = true\n"
    (tenants / "region-varmland.toml").write_text(text)


def _offered_to_regions(services, slug: str) -> None:
    """services/<slug>/: synpunkter as an e-service for regions only."""
    shutil.copytree(services / "synpunkter", services / slug)
    path = services / slug / "definition.toml"
    text = path.read_text().replace('slug = "synpunkter"', f'slug = "{slug}"', 1)
    path.write_text(text.replace('audience = "all"', 'audience = "all"\noffered_to = ["region"]'))


def test_a_member_switches_on_only_what_is_offered_to_its_kind(app, files):
    """A region taking school-transport applications would leave them unhandled, and be
    counted for their use in the cost sharing."""
    tenants, services = files
    _offered_to_regions(services, "regionens-synpunkter")
    _region_file(tenants, ["skolskjuts", "regionens-synpunkter"])
    arvika = tenants / "arvika.toml"
    arvika.write_text(arvika.read_text() + "\n[services.regionens-synpunkter]\nenabled = true\n")
    before = snapshot(app)
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert failure.value.errors == [
        "tenants/arvika.toml: services.regionens-synpunkter.enabled: regionens-synpunkter is "
        "offered to region only (offered_to in its definition), and arvika is a municipality",
        "tenants/region-varmland.toml: services.skolskjuts.enabled: skolskjuts is offered to "
        "municipality only (offered_to in its definition), and region-varmland is a region",
    ]
    assert snapshot(app) == before
    # Each with what is for it: synced.
    arvika.write_text(arvika.read_text().rsplit("[services.regionens-synpunkter]", 1)[0])
    _region_file(tenants, ["regionens-synpunkter"])
    with app.app_context(), maintenance_session() as session:
        report = sync(session, tenants, services)  # never committed
        region = session.scalar(sa.select(Tenant).where(Tenant.slug == "region-varmland"))
        on = session.scalars(
            sa.select(TenantService.service_slug).where(
                TenantService.tenant_id == region.id, TenantService.enabled.is_(True)
            )
        ).all()
    assert "tenant region-varmland" in " ".join(report.lines())
    assert on == ["regionens-synpunkter"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('scb_code = "17"', 'scb_code = "1780"', "a region has its county's two-digit code"),
        ('scb_code = "17"', 'scb_code = "99"', "'99' is no county code of SCB's"),
    ],
)
def test_a_regions_code_is_its_countys(app, files, old, new, message):
    tenants, services = files
    _region_file(tenants, [])
    path = tenants / "region-varmland.toml"
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(SyncError) as failure:
        run_sync(app, tenants, services)
    assert f"tenants/region-varmland.toml: scb_code: {message}" in " ".join(failure.value.errors)


def test_the_platforms_own_addresses_are_reserved_without_the_app_too():
    """A member file checked where no app is at hand (the loader on its own) still may not
    take the platform's own first parts."""
    from samverkan.routing import platform_paths

    assert {"hub", "api", "static", "staff", "admin"} <= platform_paths()
