"""A hub administrator's year from the command line: pools in from a file, an allocation
run, statements, CSV, JSON and the SIE 4 file for the finance office out."""

import csv
import io
import json
import shlex
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from samverkan.clock import swedish_today
from samverkan.costs import allocation, runs, statements
from samverkan.costs.importer import parse_kronor
from samverkan.costs.models import AllocationRun, CostPool
from samverkan.costs.sie import sie_for_run, vat_ore
from samverkan.database_roles import maintenance_session
from samverkan.hub.across import across_members
from samverkan.settings import PROJECT_ROOT
from samverkan.tenancy.models import Tenant

PERIOD = "2032"  # no other test keeps pools in it
EXAMPLE = PROJECT_ROOT / "config" / "costs-example.toml"


@pytest.fixture
def period(app):
    yield PERIOD
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.delete(CostPool).where(CostPool.period.like(f"{PERIOD}%")))
        session.commit()


def costs(app, *args):
    return app.test_cli_runner().invoke(args=["costs", *args])


def write(tmp_path: Path, text: str, name: str = "pools.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def example(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8").replace('period = "2026"', f'period = "{PERIOD}"')
    return write(tmp_path, text, "costs-example.toml")


def pools(app, period=PERIOD) -> dict[str, dict]:
    with app.app_context(), maintenance_session() as session:
        found = session.scalars(sa.select(CostPool).where(CostPool.period == period)).all()
        return {
            pool.name: {
                "id": pool.id,
                "amount_ore": pool.amount_ore,
                "key_kind": pool.key_kind,
                "key_settings": pool.key_settings,
                "pro_rata": pool.pro_rata,
                "updated_at": pool.updated_at,
                "participants": {
                    p.tenant.slug: (p.percentage, p.population, p.joined_on, p.left_on)
                    for p in pool.participants
                },
            }
            for pool in found
        }


def count(app, table: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


# -- Import --------------------------------------------------------------------------------


def test_the_example_file_imports_and_importing_it_again_changes_nothing(app, period, tmp_path):
    result = costs(app, "import", str(example(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "import of 2032 done: 3 created, 0 updated, 0 unchanged" in result.output
    stored = pools(app)
    platform = stored["Plattformens drift och licenser"]
    assert platform["amount_ore"] == 160_000_000 and platform["key_kind"] == "equal"
    assert len(platform["participants"]) == 16
    development = stored["Utveckling: Ansökan om förskoleplats"]
    assert (development["key_kind"], development["key_settings"]) == ("population", {"year": 2023})
    contact = stored["Kontaktcenter"]
    assert contact["key_settings"] == {"equal_percent": "30", "rest": "population", "year": 2023}
    assert contact["pro_rata"] is True and contact["amount_ore"] == 240_000_000

    audit_entries = count(app, "audit_log")
    again = costs(app, "import", str(example(tmp_path)))
    assert again.exit_code == 0, again.output
    assert "import of 2032 done: 0 created, 0 updated, 3 unchanged" in again.output
    assert pools(app) == stored  # the same rows, not even updated_at moved
    assert count(app, "audit_log") == audit_entries


def latest_audit_entry(app):
    """The last audit entry written, with whether its member is the hub, and its detail
    as a dict (SQLite returns the JSON as text)."""
    with app.app_context(), maintenance_session() as session:
        entry = session.execute(
            sa.text(
                "SELECT a.action, a.actor, a.object_ref, a.detail, t.is_hub FROM audit_log a "
                "JOIN tenants t ON t.id = a.tenant_id ORDER BY a.id DESC LIMIT 1"
            )
        ).one()
    detail = entry.detail if isinstance(entry.detail, dict) else json.loads(entry.detail)
    return entry, detail


def test_an_import_is_audited_in_the_hubs_log_as_the_cli(app, period, tmp_path):
    assert costs(app, "import", str(example(tmp_path))).exit_code == 0
    entry, detail = latest_audit_entry(app)
    assert entry.action == "costs.pools_changed" and entry.actor == "cli"
    assert entry.object_ref == f"costs/{PERIOD}" and entry.is_hub
    assert detail["file"] == "costs-example.toml" and detail["hub_log"]  # the hub's
    assert detail["pools"] == [
        plan["name"] for plan in tomllib.loads(example(tmp_path).read_text())["pools"]
    ]


AGREED = f"""
period = "{PERIOD}"

[[pools]]
name = "Lönecentrum"
category = "shared_service"
amount = "{{amount}}"
key = {{{{ kind = "percentages" }}}}
participants = {{participants}}

[pools.participant.arvika]
percentage = "60"

[pools.participant.{{other}}]
percentage = "40"
"""


def test_a_changed_file_updates_the_pool_in_place_and_replaces_its_participants(
    app, period, tmp_path
):
    first = AGREED.format(amount="500 000,00", participants='["arvika", "eda"]', other="eda")
    assert costs(app, "import", str(write(tmp_path, first))).exit_code == 0
    before = pools(app)["Lönecentrum"]
    assert before["participants"] == {
        "arvika": ("60", None, None, None),
        "eda": ("40", None, None, None),
    }
    second = AGREED.format(amount="500000.50", participants='["arvika", "kil"]', other="kil")
    result = costs(app, "import", str(write(tmp_path, second)))
    assert result.exit_code == 0, result.output
    assert "updated    Lönecentrum" in result.output
    after = pools(app)["Lönecentrum"]
    assert after["id"] == before["id"] and after["amount_ore"] == 50_000_050
    assert after["participants"] == {
        "arvika": ("60", None, None, None),
        "kil": ("40", None, None, None),
    }
    # A change of participants alone moves updated_at too: a run made before it is out
    # of date (runs.pools_changed_since).
    third = AGREED.format(amount="500000.50", participants='["arvika", "eda"]', other="eda")
    assert costs(app, "import", str(write(tmp_path, third))).exit_code == 0
    assert pools(app)["Lönecentrum"]["updated_at"] > after["updated_at"]


def test_pools_of_the_period_not_in_the_file_are_left_and_named(app, period, tmp_path):
    first = AGREED.format(amount="1", participants='["arvika", "eda"]', other="eda")
    assert costs(app, "import", str(write(tmp_path, first))).exit_code == 0
    other = f'period = "{PERIOD}"\n[[pools]]\nname = "Drift"\ncategory = "platform"\n'
    other += 'amount = "1"\nparticipants = "all"\n'
    result = costs(app, "import", str(write(tmp_path, other)))
    assert result.exit_code == 0, result.output
    assert "note: 'Lönecentrum' (2032) is not in the file and was left as it is" in result.output
    assert set(pools(app)) == {"Lönecentrum", "Drift"}
    assert pools(app)["Drift"]["key_kind"] == "equal"  # the default key


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("1 250 000,00", 125_000_000),
        ("1250000.00", 125_000_000),
        ("1250000", 125_000_000),
        ("1\u00a0250\u00a0000,5", 125_000_050),
        ("12,5 kr", 1250),
        ("0,01", 1),
        ("0", 0),
        ("999 999 999 999,99", 99_999_999_999_999),
    ],
)
def test_amounts_in_kronor_become_exact_ore(text, ore):
    assert parse_kronor(text) == ore


@pytest.mark.parametrize("text", ["1.250.000,00", "12,345", "-5", "tusen", "1 25 000", "1,2,3", ""])
def test_an_amount_that_is_not_kronor_is_refused(text):
    with pytest.raises(ValueError, match="is not an amount in kronor"):
        parse_kronor(text)


def test_every_error_in_the_file_names_file_pool_and_field_and_nothing_is_written(
    app, period, tmp_path
):
    text = f"""
period = "{PERIOD}"
colour = "blue"

[[pools]]
name = "Drift"
category = "platform"
amount = "100 000,00"
participants = "all"

[[pools]]
name = "Utveckling"
category = "development"
amount = 1250000.50
key = {{ kind = "population", year = 2023, service = "felanmalan" }}
participants = "all"

[[pools]]
name = "Kontaktcenter"
category = "kontaktcenter"
amount = "1.000.000"
key = {{ kind = "hybrid", equal_percent = "130" }}
participants = ["arvika", "arvika"]

[[pools]]
name = "Drift"
category = "platform"
amount = "1"
participants = "all"
"""
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: pools.toml: colour: unknown setting; a file has period and pools",
        "error: pools.toml: pool 2 (Utveckling): amount: write the amount as text, e.g. "
        '"1 250 000,00": a TOML number with decimals is not exact',
        "error: pools.toml: pool 2 (Utveckling): key.service: only a key by usage counts one "
        "e-service's cases",
        "error: pools.toml: pool 3 (Kontaktcenter): category: Must be one of: development, "
        "platform, shared_service.",
        "error: pools.toml: pool 3 (Kontaktcenter): amount: '1.000.000' is not an amount in "
        'kronor: write e.g. "1 250 000,00" or "1250000.00"',
        "error: pools.toml: pool 3 (Kontaktcenter): key.equal_percent: '130' is over 100 %",
        "error: pools.toml: pool 3 (Kontaktcenter): key.rest: a hybrid key needs "
        'rest = "population" or "usage"',
        "error: pools.toml: pool 3 (Kontaktcenter): participants: arvika is listed more than once",
        "error: pools.toml: pool 4 (Drift): name: pool 1 has the same name",
    ]
    assert "9 error(s) in pools.toml; nothing was changed" in result.output
    assert pools(app) == {}


def test_a_file_that_is_not_toml_or_not_there_is_a_clear_error(app, tmp_path):
    broken = costs(app, "import", str(write(tmp_path, 'period = "2032"\n[[pools]\n')))
    assert broken.exit_code == 1 and "error: pools.toml: not valid TOML" in broken.output
    missing = costs(app, "import", str(tmp_path / "saknas.toml"))
    assert missing.exit_code == 1 and "error: saknas.toml: cannot be read" in missing.output
    no_period = costs(app, "import", str(write(tmp_path, '[[pools]]\nname = "x"\n')))
    assert "error: pools.toml: period: Missing data for required field." in no_period.output
    bad_period = costs(app, "import", str(write(tmp_path, 'period = "2032-13"\npools = [{}]\n')))
    assert 'error: pools.toml: period: write a year ("2026") or a month ("2026-03")' in (
        bad_period.output
    )


def test_a_file_saved_by_notepad_or_excel_is_read_or_gets_a_clear_error(app, period, tmp_path):
    text = f'period = "{PERIOD}"\n[[pools]]\nname = "Förskola"\ncategory = "platform"\n'
    text += 'amount = "100,00"\nparticipants = "all"\n'
    with_bom = tmp_path / "bom.toml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = costs(app, "import", str(with_bom))
    assert result.exit_code == 0, result.output
    assert "Förskola" in pools(app)
    windows = tmp_path / "cp1252.toml"
    windows.write_bytes(
        text.replace("Förskola", "Fritids").encode("utf-8") + "# ö".encode("cp1252")
    )
    refused = costs(app, "import", str(windows))
    assert refused.exit_code == 1
    assert "cp1252.toml: line 7: not UTF-8 text" in refused.output
    assert "save it as UTF-8" in refused.output and "Traceback" not in refused.output


def test_a_name_written_a_little_differently_is_the_same_pool(app, period, tmp_path):
    """A trailing space, a non-breaking space or another case made a second pool, and
    the next run charged both."""
    base = f'period = "{PERIOD}"\n[[pools]]\nname = "{{}}"\ncategory = "platform"\n'
    base += 'amount = "100,00"\nparticipants = "all"\n'
    assert costs(app, "import", str(write(tmp_path, base.format("Kontaktcenter")))).exit_code == 0
    for written, kept, said in (
        ("Kontaktcenter ", "Kontaktcenter", "unchanged  Kontaktcenter"),
        ("kontaktcenter", "kontaktcenter", "updated    kontaktcenter"),  # renamed
        ("Kontaktcenter\u00a0\u00a0", "Kontaktcenter", "updated    Kontaktcenter"),
    ):
        result = costs(app, "import", str(write(tmp_path, base.format(written))))
        assert result.exit_code == 0, result.output
        assert list(pools(app)) == [kept] and said in result.output, written
    blank = costs(app, "import", str(write(tmp_path, base.format("   "))))
    assert blank.exit_code == 1 and "name: write the pool's name" in blank.output
    twice = base.format("Drift") + base.split("\n", 1)[1].format("drift ")
    doubled = costs(app, "import", str(write(tmp_path, twice)))
    assert doubled.exit_code == 1 and "name: pool 1 has the same name" in doubled.output


def test_two_stored_pools_whose_names_read_as_one_are_named_not_mixed_up(app, period, tmp_path):
    """Stored before names were compared without case and spaces: the import names both
    rather than updating one of them and failing on the other."""
    with app.app_context(), maintenance_session() as session:
        for name in ("Drift", "drift"):
            session.add(
                CostPool(
                    period=PERIOD,
                    name=name,
                    category="platform",
                    amount_ore=100,
                    key_kind="equal",
                    key_settings={},
                    pro_rata=False,
                )
            )
        session.commit()
    text = f'period = "{PERIOD}"\n[[pools]]\nname = "Drift"\ncategory = "platform"\n'
    text += 'amount = "2,00"\nparticipants = "all"\n'
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert "pools 'Drift' and 'drift' have names that read as one" in result.output
    assert {p["amount_ore"] for p in pools(app).values()} == {100}


@pytest.mark.parametrize(
    ("figure", "message"),
    [
        ('percentage = "60"', 'percentage: counts only with key.kind = "percentages"'),
        ("population = 25832", "population: counts only with a population key"),
    ],
)
def test_a_figure_the_key_does_not_read_is_refused_not_ignored(
    app, period, tmp_path, figure, message
):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "Drift"
category = "platform"
amount = "500 000,00"
participants = ["karlstad", "arvika"]

[pools.participant.karlstad]
{figure}
"""
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert f"pool 1 (Drift): participant.karlstad: {message}" in result.output
    assert pools(app) == {}


def test_errors_found_against_the_members_name_their_pool_and_nothing_is_written(
    app, period, tmp_path
):
    text = f"""
period = "{PERIOD}"

[[pools]]
name = "Drift"
category = "platform"
amount = "100 000,00"
participants = "all"

[[pools]]
name = "Avtal"
category = "shared_service"
amount = "1 000,00"
key = {{ kind = "percentages" }}
participants = ["arvika", "eda", "vasteras"]
[pools.participant.arvika]
percentage = "60"
[pools.participant.eda]
percentage = "39,5"
[pools.participant.kil]
percentage = "0,5"

[[pools]]
name = "Kontaktcenter"
category = "shared_service"
amount = "1 000,00"
participants = ["arvika", "eda"]
[pools.participant.eda]
joined_on = 2033-01-01

[[pools]]
name = "Utveckling"
category = "development"
amount = "1 000,00"
key = {{ kind = "population", year = 2022 }}
participants = ["arvika", "eda"]
[pools.participant.arvika]
population = 25832

[[pools]]
name = "Avtal 2"
category = "shared_service"
amount = "1 000,00"
key = {{ kind = "percentages" }}
participants = ["arvika", "eda"]
[pools.participant.arvika]
percentage = "60"
[pools.participant.eda]
percentage = "39,5"
"""
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: pools.toml: pool 2 (Avtal): participants: there is no member 'vasteras'",
        "error: pools.toml: pool 2 (Avtal): participant.kil: 'kil' is not among the pool's "
        "participants",
        "error: pools.toml: pool 3 (Kontaktcenter): participant.eda: joined_on and left_on count "
        "only in a pool with pro_rata = true",
        "error: pools.toml: pool 3 (Kontaktcenter): participant.eda: joined_on: 2033-01-01 is "
        "outside the period 2032-01-01 – 2032-12-31",
        "error: pools.toml: pool 4 (Utveckling): key: Eda kommun saknar folkmängd. (the key counts "
        "population 2022: give it as participant.<member>.population)",
        "error: pools.toml: pool 5 (Avtal 2): key: Procentsatserna summerar till 99,5 %, inte "
        "100 %.",
    ]
    assert pools(app) == {}  # the good first pool was not written either


def test_all_means_every_member_taking_part_and_pro_rata_counts_from_the_day_it_joined(
    app, period, tmp_path
):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "Kontaktcenter"
category = "shared_service"
amount = "3 660,00"
pro_rata = true
participants = "all"
"""
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "eda").values(member_since=date(2032, 7, 1))
        )
        session.execute(
            sa.update(Tenant)
            .where(Tenant.slug == "kil")
            .values(left_on=date(2031, 12, 31), status="closed")
        )
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "grums").values(left_on=date(2032, 3, 31))
        )
        session.commit()
    try:
        result = costs(app, "import", str(write(tmp_path, text)))
        assert result.exit_code == 0, result.output
        participants = pools(app)["Kontaktcenter"]["participants"]
        assert "kil" not in participants and len(participants) == 15  # Kil left before 2032
        assert participants["eda"] == (None, None, date(2032, 7, 1), None)
        assert participants["grums"] == (None, None, None, date(2032, 3, 31))
        assert participants["arvika"] == (None, None, None, None)
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant)
                .where(Tenant.slug.in_(["eda", "kil", "grums"]))
                .values(member_since=date(2013, 1, 1), left_on=None, status="active")
            )
            session.commit()


def test_all_means_the_municipalities_and_a_region_shares_only_where_named(app, period, tmp_path):
    """A region joins for its own e-services and counts the county's population: a pool
    that names no one is the municipalities'. Torsby stands in for a region here."""
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "Plattformens drift"
category = "platform"
amount = "1 500,00"
participants = "all"

[[pools]]
name = "E-hälsa"
category = "development"
amount = "100,00"
participants = ["torsby", "arvika"]
"""
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).where(Tenant.slug == "torsby").values(kind="region"))
        session.commit()
    try:
        result = costs(app, "import", str(write(tmp_path, text)))
        assert result.exit_code == 0, result.output
        found = pools(app)
        assert "torsby" not in found["Plattformens drift"]["participants"]
        assert len(found["Plattformens drift"]["participants"]) == 15
        assert set(found["E-hälsa"]["participants"]) == {"torsby", "arvika"}
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant).where(Tenant.slug == "torsby").values(kind="municipality")
            )
            session.commit()


def test_a_region_beside_its_municipalities_in_a_pool_by_population_is_refused(
    app, period, tmp_path, region_varmland
):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "E-hälsa"
category = "development"
amount = "100 000,00"
key = {{ kind = "hybrid", equal_percent = "50", rest = "population" }}
participants = ["arvika", "{region_varmland}"]
"""
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert (
        "error: pools.toml: pool 1 (E-hälsa): participants: Region Värmland och Arvika kommun "
        "kan inte dela efter folkmängd i samma pool"
    ) in result.output
    assert pools(app) == {}


def test_a_named_participant_that_was_no_member_in_the_period_is_refused(app, period, tmp_path):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "Kontaktcenter"
category = "shared_service"
amount = "100,00"
participants = ["kil", "eda", "arvika"]
"""
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant)
            .where(Tenant.slug == "kil")
            .values(left_on=date(2031, 12, 31), status="closed")
        )
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "eda").values(member_since=date(2033, 1, 1))
        )
        session.commit()
    try:
        result = costs(app, "import", str(write(tmp_path, text)))
        assert result.exit_code == 1
        assert (
            "participants: 'kil' was not a member during the period 2032-01-01 – 2032-12-31 "
            "(left on 2031-12-31)" in result.output
        )
        assert "'eda' was not a member during the period 2032-01-01 – 2032-12-31 " in (
            result.output
        )
        assert "(member since 2033-01-01)" in result.output
        assert "arvika" not in result.output
        assert pools(app) == {}
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant)
                .where(Tenant.slug.in_(["eda", "kil"]))
                .values(member_since=date(2013, 1, 1), left_on=None, status="active")
            )
            session.commit()


# -- Allocate ------------------------------------------------------------------------------


def imported(app, tmp_path) -> None:
    result = costs(app, "import", str(example(tmp_path)))
    assert result.exit_code == 0, result.output


def test_allocate_stores_a_run_and_prints_it_as_a_table(app, period, tmp_path):
    imported(app, tmp_path)
    before = count(app, "allocation_runs")
    result = costs(app, "allocate", "--period", PERIOD)
    assert result.exit_code == 0, result.output
    assert count(app, "allocation_runs") == before + 1
    lines = result.output.splitlines()
    assert lines[0].startswith("Kostnadsfördelning 2032, körning ")
    assert any(
        line.split()
        == [
            "Kils",
            "kommun",
            "Plattformens",
            "drift",
            "och",
            "licenser",
            "1/16",
            "6,2500",
            "%",
            "100",
            "000,00",
        ]
        for line in lines
    )
    assert lines[-1].split() == ["Alla", "Summa", "4", "350", "000,00"]


def test_a_stored_run_is_shown_again_only_once_it_reproduces(app, period, tmp_path, monkeypatch):
    """A run is printed years later as it was made, and its inputs are split again first:
    a change in how pools are split (a new rounding, a new key) would show, not pass."""
    imported(app, tmp_path)
    made = costs(app, "allocate", "--period", PERIOD, "--format", "json")
    assert made.exit_code == 0, made.output
    run_id = json.loads(made.output)["run"]
    logged, detail = latest_audit_entry(app)
    assert (logged.action, logged.object_ref, logged.actor) == (
        "costs.allocated",
        f"costs/{PERIOD}",
        "cli",
    )
    assert detail["run"] == run_id and detail["period"] == PERIOD
    before = count(app, "allocation_runs")
    shown = costs(app, "show", str(run_id), "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == json.loads(made.output)
    assert count(app, "allocation_runs") == before  # nothing stored
    table = costs(app, "show", str(run_id))
    assert table.output.startswith(f"Kostnadsfördelning 2032, körning {run_id}")
    out = tmp_path / "run.csv"
    written = costs(app, "show", str(run_id), "--format", "csv", "--output", str(out))
    assert written.exit_code == 0 and out.read_text(encoding="utf-8").startswith("\ufeff")
    assert f"allocation {run_id} for {PERIOD} reproduced; written to {out}" in written.output
    # Split another way than when it was made: refused, not printed.
    split = runs.split_pool
    monkeypatch.setattr(
        runs, "split_pool", lambda pool: split({**pool, "amount_ore": pool["amount_ore"] + 1})
    )
    drifted = costs(app, "show", str(run_id))
    assert drifted.exit_code == 1
    assert "share rows differ from its inputs split again" in drifted.output
    assert "Kostnadsfördelning" not in drifted.output
    missing = costs(app, "show", "999999")
    assert missing.exit_code == 2 and "there is no stored allocation 999999" in missing.output


def test_allocate_as_json_gives_every_pool_and_what_each_member_pays(app, period, tmp_path):
    imported(app, tmp_path)
    result = costs(app, "allocate", "--period", PERIOD, "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["period"] == PERIOD and body["created_by"] == "cli"
    for pool in body["pools"]:
        assert sum(share["amount_ore"] for share in pool["shares"]) == pool["amount_ore"]
    development = next(p for p in body["pools"] if p["key"]["kind"] == "population")
    karlstad = next(s for s in development["shares"] if s["member"] == "karlstad")
    # 350 000 kr by 2023 population: 35 000 000 öre × 97233/283548, rounded by the key.
    assert abs(Decimal(karlstad["amount_ore"]) - Decimal(35_000_000 * 97233) / 283548) < 1
    assert sum(m["total_ore"] for m in body["members"]) == 435_000_000


def test_allocate_to_a_file_it_cannot_write_stores_no_run(app, period, tmp_path):
    """A stored run is never taken back, and the API hands the latest to the finance
    system: a run whose file could not be written would be an orphan there."""
    imported(app, tmp_path)
    before = count(app, "allocation_runs")
    result = costs(
        app, "allocate", "--period", PERIOD, "--output", str(tmp_path / "finns-inte" / "x.csv")
    )
    assert result.exit_code == 2
    assert "--output" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    assert count(app, "allocation_runs") == before


def test_allocate_as_csv_is_semicolon_separated_with_a_byte_order_mark(app, period, tmp_path):
    imported(app, tmp_path)
    output = tmp_path / "run.csv"
    result = costs(app, "allocate", "--period", PERIOD, "--format", "csv", "--output", str(output))
    assert result.exit_code == 0, result.output
    raw = output.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Medlem",
        "Pool",
        "Fördelningsnyckel",
        "Andel (bråk)",
        "Andel (procent)",
        "Belopp (kr)",
    ]
    assert len(rows) == 1 + 16 * 3
    assert [
        "Kils kommun",
        "Plattformens drift och licenser",
        "Lika delar",
        "1/16",
        "6,2500 %",
        "100000,00",  # no digit grouping: a spreadsheet reads it as a number
    ] in rows


def test_allocating_a_period_with_problems_prints_each_and_stores_nothing(app, period, tmp_path):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = "E-tjänster"
category = "platform"
amount = "1 000,00"
key = {{ kind = "usage" }}
participants = "all"
"""
    assert costs(app, "import", str(write(tmp_path, text))).exit_code == 0
    before = count(app, "allocation_runs"), count(app, "allocation_shares")
    result = costs(app, "allocate", "--period", PERIOD)
    assert result.exit_code == 1
    assert (
        "error: E-tjänster: Ingen deltagare har några ärenden under perioden att fördela efter; "
        "välj en annan nyckel."
    ) in result.output
    assert "1 problem(s) in 2032; no allocation was stored" in result.output
    assert (count(app, "allocation_runs"), count(app, "allocation_shares")) == before


def test_allocate_refuses_a_malformed_period(app):
    result = costs(app, "allocate", "--period", "32")
    assert result.exit_code == 2 and "'32' is not a period" in result.output


# -- SIE 4 ---------------------------------------------------------------------------------


def parse_sie(raw: bytes) -> tuple[dict[str, list[list[str]]], list[dict]]:
    """The records of an SIE file, and its vouchers with their transactions."""
    text = raw.decode("cp437")
    assert "\r\n" in text
    records: dict[str, list[list[str]]] = {}
    vouchers: list[dict] = []
    inside = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "{":
            inside = True
            continue
        if stripped == "}":
            inside = False
            continue
        tag, *fields = shlex.split(stripped)
        if inside:
            assert tag == "#TRANS" and fields[1] == "{}"
            vouchers[-1]["trans"].append(
                {"account": fields[0], "amount": Decimal(fields[2]), "text": fields[4]}
            )
        elif tag == "#VER":
            vouchers.append(
                {
                    "series": fields[0],
                    "number": fields[1],
                    "date": fields[2],
                    "text": fields[3],
                    "trans": [],
                }
            )
        else:
            records.setdefault(tag, []).append(fields)
    return records, vouchers


def stored_run(app, tmp_path, text=None):
    if text is None:
        imported(app, tmp_path)
    else:
        assert costs(app, "import", str(write(tmp_path, text))).exit_code == 0
    result = costs(app, "allocate", "--period", PERIOD, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["run"]


def sie_file(app, run_id: int, **config) -> bytes:
    with app.app_context(), across_members("costs.allocated", "test", actor="test") as session:
        run = session.get(AllocationRun, run_id)
        hub = session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))
        return sie_for_run(run, hub, {**app.config, **config}, generated_on=date(2033, 1, 15))


def test_the_sie_file_has_the_header_facts_asks_for_and_balanced_vouchers(app, period, tmp_path):
    run_id = stored_run(app, tmp_path)
    output = tmp_path / "fakturor.se"
    result = costs(app, "allocate", "--period", PERIOD, "--format", "sie", "--output", str(output))
    assert result.exit_code == 0, result.output
    records, vouchers = parse_sie(output.read_bytes())
    assert records["#FLAGGA"] == [["0"]] and records["#FORMAT"] == [["PC8"]]
    assert records["#SIETYP"] == [["4"]] and records["#PROGRAM"][0][0] == "Samverkan"
    assert records["#FNAMN"] == [["Karlstads kommun"]]
    assert records["#ORGNR"] == [["212000-1850"]]
    year = swedish_today().year
    assert records["#RAR"] == [["0", f"{year}0101", f"{year}1231"]]
    assert records["#KONTO"] == [
        ["1510", "Kundfordringar"],
        ["3044", "Försäljning av tjänster inom Sverige, momsfri"],
    ]
    # One voucher per member but the hub, whose own share is not invoiced.
    # Unnumbered: the finance system numbers them in its own series on import.
    assert len(vouchers) == 15 and {v["number"] for v in vouchers} == {""}
    assert not any("Karlstad" in v["text"] for v in vouchers)
    for voucher in vouchers:
        assert voucher["series"] == "A"
        assert sum(t["amount"] for t in voucher["trans"]) == 0
        assert voucher["trans"][0]["account"] == "1510" and voucher["trans"][0]["amount"] > 0
    kil = next(v for v in vouchers if "Kils kommun" in v["text"])
    assert {t["text"]: t["amount"] for t in kil["trans"][1:]}[
        "Plattformens drift och licenser"
    ] == Decimal("-100000.00")
    # What the file invoices is what the run says each member pays.
    body = json.loads(costs(app, "allocate", "--period", PERIOD, "--format", "json").output)
    totals = {m["name"]: m["total_ore"] for m in body["members"]}
    for voucher in vouchers:
        name = voucher["text"].split(", ", 1)[1].split(" (")[0]
        assert voucher["trans"][0]["amount"] * 100 == totals[name]
    assert run_id < body["run"]


def test_with_vat_each_pool_line_gets_a_vat_line_and_the_voucher_still_balances(
    app, period, tmp_path
):
    # The run keeps the invoicing settings of its day: VAT is set when the run is made.
    before = app.config["COSTS_VAT_PERCENT"]
    app.config["COSTS_VAT_PERCENT"] = Decimal("25")
    try:
        run_id = stored_run(app, tmp_path)
    finally:
        app.config["COSTS_VAT_PERCENT"] = before
    records, vouchers = parse_sie(sie_file(app, run_id))
    assert ["2611", "Utgående moms på försäljning inom Sverige, 25 %"] in records["#KONTO"]
    assert records["#GEN"] == [["20330115"]]
    for voucher in vouchers:
        assert sum(t["amount"] for t in voucher["trans"]) == 0
        revenue = [t for t in voucher["trans"] if t["account"] == "3044"]
        vat = [t for t in voucher["trans"] if t["account"] == "2611"]
        assert len(vat) == len(revenue) == 3
        for net, tax in zip(revenue, vat, strict=True):
            assert tax["amount"] * 100 == -vat_ore(int(-net["amount"] * 100), Decimal("25"))
            assert tax["text"] == f"Moms 25 %, {net['text']}"


def test_vat_is_rounded_half_up_per_line():
    assert vat_ore(2, Decimal("25")) == 1  # 0,5 öre
    assert vat_ore(1, Decimal("25")) == 0
    assert vat_ore(10_000, Decimal("12.5")) == 1250


def test_names_outside_code_page_437_and_quotes_survive_the_sie_file(app, period, tmp_path):
    text = f"""
period = "{PERIOD}"
[[pools]]
name = 'Drift – "Plattformen"'
category = "platform"
amount = "16,00"
participants = ["arvika", "eda"]
"""
    run_id = stored_run(app, tmp_path, text)
    raw = sie_file(app, run_id)
    raw.decode("cp437")  # every byte is code page 437
    _, vouchers = parse_sie(raw)
    assert [t["text"] for t in vouchers[0]["trans"]][1] == 'Drift ? "Plattformen"'


# -- Statements ----------------------------------------------------------------------------


def test_a_members_statement_shows_every_pool_its_key_share_and_amount(app, period, tmp_path):
    run_id = stored_run(app, tmp_path)
    with app.app_context(), across_members("costs.allocated", "test", actor="test") as session:
        munkfors = session.scalar(sa.select(Tenant.id).where(Tenant.slug == "munkfors"))
        statement = statements.member_statement(session.get(AllocationRun, run_id), munkfors)
    assert (statement.tenant_name, statement.period, statement.period_label) == (
        "Munkfors kommun",
        PERIOD,
        PERIOD,
    )
    rows = {row.pool_name: row for row in statement.rows}
    assert list(rows) == sorted(rows)
    platform = rows["Plattformens drift och licenser"]
    assert (platform.category_label, platform.key_label) == (
        "Plattformens drift och licenser",
        "Lika delar",
    )
    assert (platform.fraction, platform.percentage, platform.amount_ore) == (
        "1/16",
        "6,2500 %",
        10_000_000,
    )
    assert platform.basis == "1 av 16 deltagare"
    development = rows["Utveckling: Ansökan om förskoleplats"]
    assert development.key_label == "Efter folkmängd (31 december 2023)"
    assert development.basis == "3 669 av 283 548 invånare"
    assert development.fraction == "1223/94516"  # 3669/283548 reduced
    assert development.percentage == "1,2940 %"
    contact = rows["Kontaktcenter"]
    assert contact.key_label == (
        "30 % lika delar, 70 % efter folkmängd (31 december 2023), pro rata per dag"
    )
    assert contact.basis == "1 av 16 deltagare; 3 669 av 283 548 invånare; 366 av 366 dagar"
    assert statement.total_ore == sum(row.amount_ore for row in statement.rows)

    exported = statements.statement_csv(statement)
    assert exported.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(exported[1:]), delimiter=";"))
    assert lines[0] == statements.STATEMENT_HEADER
    assert lines[-1] == [
        "Summa",
        "",
        "",
        "",
        "",
        "",
        "",
        statements.csv_amount(statement.total_ore),
    ]
    assert [
        "Plattformens drift och licenser",
        "Plattformens drift och licenser",
        "Lika delar",
        "1 av 16 deltagare",
        "1600000,00",
        "1/16",
        "6,2500 %",
        "100000,00",
    ] in lines


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (0, "0,00 kr"),
        (5, "0,05 kr"),
        (123_456, "1 234,56 kr"),
        (34_291_548, "342 915,48 kr"),
        (-100_000_001, "-1 000 000,01 kr"),
    ],
)
def test_kronor_are_written_the_swedish_way(ore, text):
    assert statements.kronor(ore) == text


def test_money_text_refuses_anything_but_whole_ore():
    with pytest.raises(TypeError):
        statements.kronor(12.5)


def test_two_keys_side_by_side_show_what_each_member_would_pay(app):
    with app.app_context(), across_members("costs.counted", "test", actor="test") as session:
        members = session.scalars(sa.select(Tenant.id)).all()
        rows = statements.compare_keys(
            session,
            "2026",
            100_000_000,
            members,
            allocation.Key(kind=allocation.EQUAL),
            allocation.Key(kind=allocation.POPULATION),
        )
        by_slug = {row.tenant.slug: row for row in rows}
        with pytest.raises(allocation.AllocationError, match="några ärenden"):
            statements.compare_keys(
                session,
                "2032",
                100,
                members,
                allocation.Key(allocation.EQUAL),
                allocation.Key(allocation.USAGE),
            )
        with pytest.raises(allocation.AllocationError, match="Fasta procentsatser"):
            statements.compare_keys(
                session,
                "2026",
                100,
                members,
                allocation.Key(allocation.EQUAL),
                allocation.Key(allocation.PERCENTAGES),
            )
    assert [row.tenant.name for row in rows] == sorted(row.tenant.name for row in rows)
    assert sum(row.ore_a for row in rows) == sum(row.ore_b for row in rows) == 100_000_000
    karlstad = by_slug["karlstad"]
    assert (karlstad.ore_a, karlstad.ore_b) == (6_250_000, 34_291_548)
    assert karlstad.difference == 34_291_548 - 6_250_000
    assert by_slug["munkfors"].ore_b == 1_293_961 and by_slug["munkfors"].difference < 0


def test_a_run_of_a_month_is_labelled_with_the_month(app, tmp_path):
    month = f"{PERIOD}-02"
    text = f"""
period = "{month}"
[[pools]]
name = "Drift"
category = "platform"
amount = "100,00"
pro_rata = true
participants = ["arvika", "eda"]
[pools.participant.eda]
joined_on = {month}-29
"""
    try:
        assert costs(app, "import", str(write(tmp_path, text))).exit_code == 0
        result = costs(app, "allocate", "--period", month)
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"Kostnadsfördelning februari {PERIOD}")
        with app.app_context(), maintenance_session() as session:
            run = runs.latest_run(session, month)
            shares = {s.tenant_slug: s.amount_ore for s in run.shares}
        assert shares == {"arvika": 9667, "eda": 333}  # 29 days against 1 of February 2032
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(sa.delete(CostPool).where(CostPool.period == month))
            session.commit()


@pytest.mark.parametrize(
    ("period", "amount", "population"),
    [
        ("2_36", "100,00", 1),  # int() would take these; a period is 2026 or 2026-03
        ("+034", "100,00", 1),
        (PERIOD, "١٢٣,٤٥", 1),  # digits of another script are not kronor
        (PERIOD, "100,00", 99_999_999_999),  # more than the column holds
    ],
)
def test_odd_periods_digits_and_figures_are_refused_and_nothing_is_stored(
    app, period, tmp_path, amount, population
):
    text = f"""
period = "{period}"
[[pools]]
name = "Drift"
category = "platform"
amount = "{amount}"
key = {{ kind = "population" }}
participants = ["arvika", "eda"]
[pools.participant.arvika]
population = {population}
"""
    result = costs(app, "import", str(write(tmp_path, text)))
    assert result.exit_code == 1
    assert "error: pools.toml" in result.output
    with app.app_context(), maintenance_session() as session:
        assert (
            session.scalar(sa.select(sa.func.count(CostPool.id)).where(CostPool.name == "Drift"))
            == 0
        )


def test_a_runs_invoice_file_stays_as_it_was_when_the_config_changes_later(app, period, tmp_path):
    run_id = stored_run(app, tmp_path)  # made with 0 % VAT
    first = sie_file(app, run_id)
    later = sie_file(app, run_id, COSTS_VAT_PERCENT=Decimal("25"), COSTS_REVENUE_ACCOUNT="3999")
    assert later == first
