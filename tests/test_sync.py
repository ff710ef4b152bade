"""tenants/ and services/ into the database: validated first, all or nothing, idempotent."""

import shutil

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
            "services/felanmalan/definition.toml",
            'category = "gata-trafik"',
            'category = "okand"',
            "services/felanmalan/definition.toml: category: 'okand' is not in",
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


def test_a_new_version_is_published_and_members_stay_until_the_hub_moves_them(app, files, resync):
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
