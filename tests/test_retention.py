"""Retention (gallring): a member's period and an e-service's own, set in the member file
and by the member's administrator; `flask retention run` thins closed cases past their
period (never an open one), logs each in the audit log, and --dry-run changes nothing."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, as_upload, tiny_png
from conftest import count_all
from test_accounts import create, sign_in

from samverkan.cases.models import Case
from samverkan.database_roles import maintenance_session
from samverkan.db import Base
from samverkan.extensions import db
from samverkan.retention import operations as retention_operations
from samverkan.retention.periods import (
    MEMBER,
    SERVICE,
    Period,
    has_passed,
    load_months,
    months_after,
    months_before,
    period_for,
)
from samverkan.retention.run import run_retention
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

ANONYMOUS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def periods(app):
    """Set members' periods directly: {slug: (months, {service: months})}. Cleared after."""

    def set_periods(**members):
        with app.app_context(), maintenance_session() as session:
            for slug, (months, by_service) in members.items():
                session.execute(
                    sa.update(Tenant)
                    .where(Tenant.slug == slug)
                    .values(retention_months=months, retention_by_service=by_service)
                )
            session.commit()

    yield set_periods
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).values(retention_months=None, retention_by_service={}))
        session.commit()


def submit(client, member="arvika", service="synpunkter", answers=ANONYMOUS) -> dict:
    response = client.post(f"/api/v1/tenants/{member}/services/{service}/submissions", json=answers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def close(app, reference: str, closed_at: datetime | None) -> None:
    """Mark a case closed at a given moment (or open it again with None), as the owner."""
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Case)
            .where(Case.reference == reference)
            .values(status="closed" if closed_at else "in_progress", closed_at=closed_at)
        )
        session.commit()


def case_row(app, reference: str) -> dict:
    with app.app_context(), maintenance_session() as session:
        row = session.execute(
            sa.text("SELECT * FROM cases WHERE reference = :r"), {"r": reference}
        ).one()
        return dict(row._mapping)


def rows(app, sql: str, **params) -> list:
    with app.app_context(), maintenance_session() as session:
        return [tuple(r) for r in session.execute(sa.text(sql), params).all()]


def as_json(value):
    """A JSON column as read with raw SQL: parsed on PostgreSQL, text on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def run(app, now=NOW, dry_run=False, member=None, batch=200):
    with app.app_context():
        return run_retention(
            db.engine,
            Path(app.config["UPLOAD_ROOT"]),
            now=now,
            dry_run=dry_run,
            member=member,
            batch=batch,
        )


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["retention", "run", *args])


def digest(app) -> str:
    """Every row of every table, and every stored file with its content."""
    digest = hashlib.sha256()
    with app.app_context(), maintenance_session() as session:
        for name in sorted(Base.metadata.tables):
            found = session.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1")).all()  # noqa: S608
            digest.update(json.dumps([list(r) for r in found], default=str).encode())
    root = Path(app.config["UPLOAD_ROOT"])
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if path.is_file():
            digest.update(str(path).encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# -- periods ------------------------------------------------------------------------------


def test_a_month_earlier_is_the_same_swedish_clock_time_and_the_31st_becomes_the_last_day():
    # 31 March 12:00 in Stockholm (summer time) → 28 February 12:00 (winter time).
    assert months_before(datetime(2026, 3, 31, 10, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 11, tzinfo=UTC
    )
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )
    assert months_before(datetime(2024, 2, 29, 12, tzinfo=UTC), 12) == datetime(
        2023, 2, 28, 12, tzinfo=UTC
    )


def test_a_case_closed_just_after_the_spring_change_is_not_thinned_before_its_day():
    """Closed 03:15 on the Sunday the clocks go forward (01:15 UTC), one month: its extract
    promises 29 April 03:15. 02:40 that morning a month on is a time the spring change
    skips; read as the hour before, the case counted as past its period an hour early."""
    closed = datetime(2026, 3, 29, 1, 15, tzinfo=UTC)
    promised = months_after(closed, 1)
    assert promised == datetime(2026, 4, 29, 1, 15, tzinfo=UTC)
    assert not has_passed(closed, 1, datetime(2026, 4, 29, 0, 40, tzinfo=UTC))
    assert not has_passed(closed, 1, promised)
    assert has_passed(closed, 1, promised + timedelta(seconds=1))
    # Every minute of that morning agrees with the promise.
    for minute in range(0, 180):
        now = datetime(2026, 4, 28, 23, 0, tzinfo=UTC) + timedelta(minutes=minute)
        assert has_passed(closed, 1, now) == (promised < now), now


def test_an_open_case_has_never_passed_a_period():
    assert not has_passed(None, 1, NOW)
    cutoff = months_before(NOW, 24)
    assert has_passed(cutoff - timedelta(seconds=1), 24, NOW)
    assert not has_passed(cutoff, 24, NOW)
    assert not has_passed(cutoff + timedelta(seconds=1), 24, NOW)


def test_an_e_services_period_goes_before_the_members_and_none_means_none():
    tenant = Tenant(retention_months=24, retention_by_service={"felanmalan": 6})
    assert period_for(tenant, "felanmalan") == Period(6, SERVICE)
    assert period_for(tenant, "synpunkter") == Period(24, MEMBER)
    assert period_for(Tenant(retention_by_service={}), "synpunkter") == Period(None, None)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "Gallringsfristen ska vara 1–1200 månader."),
        ("1201", "Gallringsfristen ska vara 1–1200 månader."),
        ("2 år", "Skriv gallringsfristen som ett helt antal månader, till exempel 24."),
        ("24,5", "Skriv gallringsfristen som ett helt antal månader, till exempel 24."),
        ("-3", "Skriv gallringsfristen som ett helt antal månader, till exempel 24."),
    ],
)
def test_a_period_that_is_not_whole_months_is_refused_in_swedish(typed, message):
    with pytest.raises(Exception) as refused:
        load_months(typed)
    assert refused.value.messages == {"retention_months": [message]}


def test_an_empty_period_means_not_set():
    assert load_months("") is None and load_months("  ") is None
    assert load_months(" 36 ") == 36


# -- thinning ------------------------------------------------------------------------------


@pytest.fixture
def worker(app, client, read_csrf):
    assert create(app, "anna@arvika.example").exit_code == 0
    staff = app.test_client()
    assert sign_in(staff, read_csrf, "anna@arvika.example").status_code == 303
    return staff


def handled_and_closed(worker, read_csrf, reference: str) -> None:
    """A case worker writes a note and closes the case with a message to the citizen."""
    url = f"/arvika/staff/arenden/{reference}"
    token = read_csrf(worker.get(url).text)
    assert (
        worker.post(url + "/anteckning", data={"csrf_token": token, "note": "Ringt Anna Berg"})
    ).status_code == 303
    closed = worker.post(
        url + "/status",
        data={
            "csrf_token": token,
            "status": "closed",
            "message": "Lampan är lagad, Anna.",
            "bekrafta": "ja",
        },
    )
    assert closed.status_code == 303


def test_a_closed_case_past_its_period_loses_its_personal_data_and_keeps_its_place(
    app, client, worker, read_csrf, periods, upload_root
):
    answers = {
        **FELANMALAN,
        "want_contact": "yes",
        "name": "Anna Berg",
        "email": "anna@exempel.se",
        "photo": as_upload("lampa-hos-anna-berg.png", tiny_png()),
    }
    made = submit(client, service="felanmalan", answers=answers)
    reference, token = made["reference"], made["status_url"].rsplit("/", 1)[-1]
    handled_and_closed(worker, read_csrf, reference)
    (storage_name, tenant_id) = rows(app, "SELECT storage_name, tenant_id FROM attachments")[0]
    stored = upload_root / str(tenant_id) / storage_name
    assert stored.is_file()
    assert len(rows(app, "SELECT id FROM outbox_messages")) == 2  # receipt, closing message
    rows_sent = "UPDATE outbox_messages SET status = 'sent'"
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text(rows_sent))
        session.commit()
    close(app, reference, datetime.now(UTC) - timedelta(days=800))
    periods(arvika=(24, {}))
    before = case_row(app, reference)

    result = cli(app)

    assert result.exit_code == 0, result.output
    assert f"arvika  felanmalan  24 months (member default): thinned 1: {reference};" in (
        result.output
    )
    assert "retention: thinned 1 case(s) at 1 member(s)" in result.output
    after = case_row(app, reference)
    assert as_json(after["answers"]) == {}
    assert after["idempotency_key"] is None and after["request_fingerprint"] is None
    assert after["thinned_at"] is not None
    assert after["status_token"] == hashlib.sha256(token.encode()).hexdigest()
    for kept in ("id", "reference", "year", "number", "service_slug", "definition_id"):
        assert after[kept] == before[kept], kept
    for kept in ("status", "channel", "submitted_at", "closed_at", "assigned_to_id"):
        assert after[kept] == before[kept], kept
    # The history keeps its lines (statistics: when each status came), without their text.
    events = rows(app, "SELECT kind, status, message FROM case_events ORDER BY id")
    assert [e[:2] for e in events] == [
        ("submitted", "received"),
        ("note", "received"),
        ("status_changed", "closed"),
    ]
    assert all(message is None for _, _, message in events)
    assert count_all(app, "attachments") == 0 and not stored.exists()
    assert count_all(app, "outbox_messages") == 0
    (entry,) = rows(
        app,
        "SELECT actor, object_ref, detail FROM audit_log WHERE action = 'case.thinned'",
    )
    detail = as_json(entry[2])
    assert entry[:2] == ("system", reference)
    assert detail["months"] == 24 and detail["rule"] == "member"
    assert detail["attachments"] == 1 and detail["mails"] == 2
    # Nothing of Anna's is left anywhere in the case's rows.
    everything = json.dumps(
        rows(app, "SELECT * FROM cases")
        + rows(app, "SELECT * FROM case_events")
        + rows(app, "SELECT * FROM outbox_messages"),
        default=str,
    )
    assert "Anna" not in everything and "anna@exempel.se" not in everything
    assert "Storgatan" not in everything and "lampa" not in everything

    # The old status link says so, and opens nothing.
    gone = client.get(f"/arvika/arende/{token}")
    assert gone.status_code == 410
    assert f"Ärende {reference} är gallrat" in gone.text and "Lampan" not in gone.text
    assert client.get(f"/arvika/arende/{token}/registerutdrag").status_code == 410
    api = client.get(f"/api/v1/tenants/arvika/status/{token}")
    assert api.status_code == 410 and reference in api.get_json()["message"]
    assert api.get_json()["error"] == "Borttaget" and "Lampan" not in api.text
    # Staff see the case as thinned, and can add nothing to it.
    page = worker.get(f"/arvika/staff/arenden/{reference}")
    assert page.status_code == 200 and "Ärendet gallrades" in page.text
    assert "Anna Berg" not in page.text and "Storgatan" not in page.text
    note = worker.post(
        f"/arvika/staff/arenden/{reference}/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "Anna Berg ringde igen"},
    )
    assert note.status_code == 422 and "Ärendet är gallrat och kan inte ändras." in note.text
    assert "Anna Berg ringde" not in json.dumps(rows(app, "SELECT * FROM case_events"), default=str)

    # A second run finds nothing more to do.
    again = cli(app)
    assert "retention: thinned 0 case(s) at 0 member(s)" in again.output


def test_open_cases_and_a_case_closed_one_second_too_recently_are_never_thinned(
    app, client, periods
):
    cutoff = months_before(NOW, 12)
    long_open = submit(client)["reference"]
    with app.app_context(), maintenance_session() as session:
        session.execute(  # submitted years ago and never closed
            sa.update(Case)
            .where(Case.reference == long_open)
            .values(submitted_at=NOW - timedelta(days=3000))
        )
        session.commit()
    too_recent = submit(client)["reference"]
    close(app, too_recent, cutoff + timedelta(seconds=1))
    on_the_second = submit(client)["reference"]
    close(app, on_the_second, cutoff)
    just_past = submit(client)["reference"]
    close(app, just_past, cutoff - timedelta(seconds=1))
    periods(arvika=(12, {}))

    (outcome,) = run(app, member="arvika")

    (service,) = outcome.services
    assert service.thinned == [just_past]
    assert service.kept == 2  # the two closed ones not yet due; the open one is not counted
    thinned = dict(rows(app, "SELECT reference, thinned_at IS NOT NULL FROM cases"))
    assert thinned == {long_open: False, too_recent: False, on_the_second: False, just_past: True}
    answers = dict(rows(app, "SELECT reference, answers FROM cases"))
    for reference in (long_open, too_recent, on_the_second):
        assert as_json(answers[reference])["message"] == "En fråga"


def test_a_case_that_claims_to_be_closed_without_a_closing_time_is_left_alone(app, client, periods):
    odd = submit(client)["reference"]
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Case).where(Case.reference == odd).values(status="closed"))
        session.commit()
    periods(arvika=(1, {}))
    (outcome,) = run(app, member="arvika")
    assert outcome.thinned == 0
    assert case_row(app, odd)["thinned_at"] is None


@pytest.fixture
def arvika_left(app):
    """Arvika offboarded by the hub on a given day (its cases read-only from then on)."""

    def leave(on):
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant).where(Tenant.slug == "arvika").values(status="closed", left_on=on)
            )
            session.commit()

    yield leave
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "arvika").values(status="active", left_on=None)
        )
        session.commit()


def test_a_case_still_open_when_its_member_left_is_thinned_a_period_after_the_leaving(
    app, client, periods, arvika_left
):
    """It can never be closed (a closed member's cases are read-only): without this its
    answers, names and addresses would stay for good."""
    left_open = submit(client)["reference"]
    closed_before = submit(client)["reference"]
    close(app, closed_before, NOW - timedelta(days=800))
    elsewhere = submit(client, member="eda")["reference"]  # Eda has not left
    periods(arvika=(12, {}), eda=(12, {}))
    arvika_left((NOW - timedelta(days=400)).date())

    dry = cli(app, "--dry-run", "--member", "arvika")
    assert dry.exit_code == 0, dry.output
    assert case_row(app, left_open)["thinned_at"] is None
    (outcome,) = run(app, member="arvika")
    assert sorted(outcome.services[0].thinned) == sorted([left_open, closed_before])
    assert case_row(app, left_open)["thinned_at"] is not None
    assert case_row(app, left_open)["answers"] in ({}, "{}")
    assert case_row(app, left_open)["status"] == "received"  # as it was: only emptied
    [detail] = [
        as_json(d)
        for (d,) in rows(
            app,
            "SELECT detail FROM audit_log WHERE action = 'case.thinned' AND object_ref = :r",
            r=left_open,
        )
    ]
    assert detail["open_when_member_left"] is True
    run(app, member="eda")
    assert case_row(app, elsewhere)["thinned_at"] is None  # open at an active member: never


def test_a_member_that_left_recently_keeps_its_open_cases_until_its_period_has_passed(
    app, client, periods, arvika_left
):
    left_open = submit(client)["reference"]
    periods(arvika=(12, {}))
    arvika_left((NOW - timedelta(days=300)).date())
    (outcome,) = run(app, member="arvika")
    assert outcome.thinned == 0 and outcome.services[0].kept == 1
    assert case_row(app, left_open)["thinned_at"] is None


def test_without_a_period_nothing_is_thinned_and_the_run_says_so(app, client, periods):
    reference = submit(client, member="eda")["reference"]
    close(app, reference, NOW - timedelta(days=36500))
    periods(arvika=(1, {}))  # Arvika's period is not Eda's
    result = cli(app)
    assert result.exit_code == 0, result.output
    assert "eda  synpunkter  no retention period set: 1 closed case(s) kept" in result.output
    assert case_row(app, reference)["thinned_at"] is None


def test_an_e_services_own_period_overrides_the_members(app, client, periods):
    fault = submit(client, service="felanmalan", answers=FELANMALAN)["reference"]
    comment = submit(client)["reference"]
    for reference in (fault, comment):
        close(app, reference, NOW - timedelta(days=400))
    periods(arvika=(120, {"felanmalan": 12}))
    (outcome,) = run(app, member="arvika")
    assert outcome.error is None
    by_service = {s.service_slug: s for s in outcome.services}
    assert by_service["felanmalan"].thinned == [fault]
    assert by_service["felanmalan"].period == Period(12, SERVICE)
    assert by_service["synpunkter"].thinned == [] and by_service["synpunkter"].kept == 1


def test_a_dry_run_lists_what_it_would_thin_and_changes_nothing(app, client, periods, upload_root):
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    due = submit(client, service="felanmalan", answers=answers)["reference"]
    close(app, due, datetime.now(UTC) - timedelta(days=400))
    periods(arvika=(12, {}))
    before = digest(app)
    result = cli(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"arvika  felanmalan  12 months (member default): would thin 1: {due};" in (
        result.output
    )
    assert "retention: would thin 1 case(s) at 1 member(s) (dry run: nothing was changed)" in (
        result.output
    )
    assert digest(app) == before
    assert "case.thinned" not in str(rows(app, "SELECT action FROM audit_log"))


def test_a_case_whose_e_mail_is_still_queued_waits_for_a_later_run(app, client, periods):
    reference = submit(
        client, answers={**ANONYMOUS, "want_reply": "yes", "email": "anna@exempel.se"}
    )["reference"]
    close(app, reference, NOW - timedelta(days=400))
    periods(arvika=(12, {}))
    (outcome,) = run(app, member="arvika")
    assert outcome.services[0].postponed == [reference] and outcome.thinned == 0
    assert count_all(app, "outbox_messages") == 1  # the receipt goes out first
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text("UPDATE outbox_messages SET status = 'failed'"))
        session.commit()
    (outcome,) = run(app, member="arvika")
    assert outcome.services[0].thinned == [reference]
    assert count_all(app, "outbox_messages") == 0


def test_a_failure_leaves_its_batch_whole_and_the_other_members_are_still_thinned(
    app, client, periods, monkeypatch, upload_root
):
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    first = submit(client, service="felanmalan", answers=answers)["reference"]
    second = submit(client, service="felanmalan", answers=answers)["reference"]
    at_eda = submit(client, member="eda")["reference"]
    for reference in (first, second, at_eda):
        close(app, reference, NOW - timedelta(days=400))
    periods(arvika=(12, {}), eda=(12, {}))
    real = retention_operations.record
    calls = []

    def failing_record(session, action, *args, **kwargs):
        calls.append(action)
        if len(calls) == 2:  # the second Arvika case, after the first was thinned
            raise RuntimeError("disk full")
        return real(session, action, *args, **kwargs)

    monkeypatch.setattr(retention_operations, "record", failing_record)
    files_before = sorted(p.name for p in upload_root.rglob("*.png"))

    outcomes = {o.slug: o for o in run(app)}

    assert outcomes["arvika"].error == "RuntimeError: disk full"
    assert outcomes["arvika"].thinned == 0
    assert outcomes["eda"].thinned == 1 and outcomes["eda"].error is None
    state = dict(rows(app, "SELECT reference, thinned_at IS NOT NULL FROM cases"))
    assert state == {first: False, second: False, at_eda: True}
    assert count_all(app, "attachments") == 2
    assert sorted(p.name for p in upload_root.rglob("*.png")) == files_before
    (answers,) = rows(app, "SELECT answers FROM cases WHERE reference = :r", r=first)[0]
    assert as_json(answers)["description"] == "Gatlampan lyser inte."


def test_the_run_fails_loudly_when_a_member_fails(app, client, periods, monkeypatch):
    reference = submit(client)["reference"]
    close(app, reference, datetime.now(UTC) - timedelta(days=400))
    periods(arvika=(12, {}))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(retention_operations, "record", broken)
    result = cli(app)
    assert result.exit_code != 0
    assert "arvika  error, nothing of its batch was kept: RuntimeError: disk full" in (
        result.output
    )
    assert "retention failed at arvika" in result.output


def test_batches_commit_as_they_go_and_thin_every_due_case(app, client, periods):
    made = [submit(client)["reference"] for _ in range(5)]
    for index, reference in enumerate(made):
        close(app, reference, NOW - timedelta(days=400 + index))
    periods(arvika=(12, {}))
    (outcome,) = run(app, member="arvika", batch=2)
    assert sorted(outcome.services[0].thinned) == sorted(made)
    assert len(rows(app, "SELECT id FROM audit_log WHERE action = 'case.thinned'")) == 5


def test_one_member_only_with_member(app, client, periods):
    here = submit(client)["reference"]
    there = submit(client, member="eda")["reference"]
    for reference in (here, there):
        close(app, reference, datetime.now(UTC) - timedelta(days=400))
    periods(arvika=(12, {}), eda=(12, {}))
    result = cli(app, "--member", "eda")
    assert result.exit_code == 0, result.output
    assert "arvika" not in result.output
    state = dict(rows(app, "SELECT reference, thinned_at IS NOT NULL FROM cases"))
    assert state == {here: False, there: True}
    unknown = cli(app, "--member", "atlantis")
    assert unknown.exit_code != 0 and "--member: there is no member 'atlantis'" in unknown.output


def test_the_application_role_can_thin_only_the_bound_members_cases(app, client, periods):
    """On PostgreSQL the run is the application's role under row-level security: bound to
    Arvika, the very statements that thin reach none of Eda's rows."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row-level security is PostgreSQL's")
    here = submit(client)["reference"]
    there = submit(client, member="eda")["reference"]
    for reference in (here, there):
        close(app, reference, NOW - timedelta(days=400))
    with app.app_context():
        ids = dict(db.session.execute(sa.select(Tenant.slug, Tenant.id)).all())
        bind_tenant(db.session, ids["arvika"])
        changed = db.session.execute(
            sa.text("UPDATE cases SET answers = '{}', thinned_at = now() WHERE reference = :r"),
            {"r": there},
        ).rowcount
        wiped = db.session.execute(
            sa.text("UPDATE case_events SET message = NULL WHERE tenant_id = :t"),
            {"t": ids["eda"]},
        ).rowcount
        db.session.commit()
        db.session.remove()
    assert changed == 0 and wiped == 0
    periods(arvika=(12, {}), eda=(12, {}))
    outcomes = {o.slug: o for o in run(app)}  # every member, each bound in turn
    assert outcomes["arvika"].thinned == 1 and outcomes["eda"].thinned == 1
    with app.app_context():
        assert str(db.engine.url.username) == "samverkan_app"


# -- setting the period ----------------------------------------------------------------------


@pytest.fixture
def admin(app, read_csrf, resync):
    assert create(app, "admin@arvika.example", role="tenant_admin").exit_code == 0
    browser = app.test_client()
    assert sign_in(browser, read_csrf, "admin@arvika.example").status_code == 303
    yield browser
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).values(retention_months=None, retention_by_service={}))
        session.commit()


def tenant_retention(app, slug="arvika"):
    return rows(
        app,
        "SELECT retention_months, retention_by_service FROM tenants WHERE slug = :s",
        s=slug,
    )[0]


def profile_form(page: str, read_csrf) -> dict:
    """The profile form as the page fills it in."""
    data = dict(re.findall(r'name="(\w+)" type="\w+" value="([^"]*)"', page))
    data["csrf_token"] = read_csrf(page)
    for name in ("privacy_notice", "accessibility_statement"):
        data[name] = ""
    return data


def test_the_administrator_sets_the_members_period_on_the_profile(app, admin, read_csrf):
    page = admin.get("/arvika/admin/profil")
    assert "Gallringsfrist" in page.text
    data = {**profile_form(page.text, read_csrf), "retention_months": "2 år"}
    refused = admin.post("/arvika/admin/profil", data=data)
    assert refused.status_code == 422
    assert "Gallringsfrist: Skriv gallringsfristen som ett helt antal månader" in refused.text
    assert tenant_retention(app)[0] is None
    saved = admin.post("/arvika/admin/profil", data={**data, "retention_months": "36"})
    assert saved.status_code == 303
    assert tenant_retention(app)[0] == 36
    assert 'value="36"' in admin.get("/arvika/admin/profil").text
    # Which period was in force when: the log keeps the value before and after.
    (detail,) = [
        as_json(d)
        for (d,) in rows(app, "SELECT detail FROM audit_log WHERE action = 'profile.changed'")
    ]
    assert detail["changes"] == {"retention_months": {"from": None, "to": 36}}
    log = admin.get("/arvika/admin/logg").text
    assert "gallringsfrist (månader): – → 36" in log


def test_the_administrator_gives_an_e_service_its_own_period_and_takes_it_away(
    app, admin, read_csrf
):
    url = "/arvika/admin/e-tjanster/felanmalan/installningar"
    page = admin.get(url)
    assert "Ingen gallringsfrist är beslutad" in page.text
    assert "katalogens förslag för e-tjänsten: 24 månader (2 år)" in page.text
    token = read_csrf(page.text)
    action = "/arvika/admin/e-tjanster/felanmalan/gallring"
    refused = admin.post(action, data={"csrf_token": token, "retention_months": "0"})
    assert refused.status_code == 422
    assert "Gallringsfrist för e-tjänsten: Gallringsfristen ska vara 1–1200 månader." in (
        refused.text
    )
    saved = admin.post(action, data={"csrf_token": token, "retention_months": "6"})
    assert saved.status_code == 303
    assert as_json(tenant_retention(app)[1]) == {"felanmalan": 6}
    assert "6 månader (e-tjänstens frist)" in admin.get(url).text
    cleared = admin.post(action, data={"csrf_token": token, "retention_months": ""})
    assert cleared.status_code == 303
    assert as_json(tenant_retention(app)[1]) == {}
    details = rows(app, "SELECT detail FROM audit_log WHERE action = 'service.changed'")
    assert [as_json(d)["changes"] for (d,) in details] == [
        {"retention_months": {"from": None, "to": 6}},
        {"retention_months": {"from": 6, "to": None}},
    ]
    log = admin.get("/arvika/admin/logg").text
    assert "gallringsfrist (månader): 6 → –" in log and "gallringsfrist (månader): – → 6" in log
    assert (
        admin.post(
            "/arvika/admin/e-tjanster/finns-inte/gallring", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_the_member_file_gives_the_period_until_the_administrator_takes_over(
    app, admin, read_csrf, tmp_path
):
    import shutil

    from samverkan.settings import PROJECT_ROOT
    from samverkan.sync import SyncError, sync

    tenants = shutil.copytree(PROJECT_ROOT / "tenants", tmp_path / "tenants")
    path = tenants / "arvika.toml"
    path.write_text("retention_months = 24\n" + path.read_text())
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, PROJECT_ROOT / "services")
        session.commit()
    assert tenant_retention(app)[0] == 24
    # A decision made in the member's file is logged as one made on its profile page.
    logged = rows(
        app,
        "SELECT actor, detail FROM audit_log"
        " WHERE action = 'profile.changed' AND object_ref = 'arvika'",
    )
    assert [(actor, as_json(d)["changes"]) for actor, d in logged] == [
        ("sync", {"retention_months": {"from": None, "to": 24}})
    ]
    page = admin.get("/arvika/admin/profil")
    data = {**profile_form(page.text, read_csrf), "retention_months": "60"}
    assert admin.post("/arvika/admin/profil", data=data).status_code == 303
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, PROJECT_ROOT / "services")
        session.commit()
    assert tenant_retention(app)[0] == 60  # the administrator's, not the file's
    path.write_text(path.read_text().replace("retention_months = 24", 'retention_months = "2y"'))
    with app.app_context(), maintenance_session() as session, pytest.raises(SyncError) as bad:
        sync(session, tenants, PROJECT_ROOT / "services")
    assert "tenants/arvika.toml: retention_months: write whole months as a number" in str(bad.value)


def test_statistics_and_cost_sharing_counts_are_the_same_after_thinning(app, client, periods):
    from datetime import date

    from samverkan.costs.runs import usage_counts

    made = [submit(client)["reference"] for _ in range(3)]
    submit(client, service="felanmalan", answers=FELANMALAN)
    for reference in made[:2]:
        close(app, reference, NOW - timedelta(days=400))
    year = datetime.now(UTC).year

    def counts():
        with app.app_context(), maintenance_session() as session:
            return (
                usage_counts(session, date(year, 1, 1), date(year, 12, 31)),
                usage_counts(session, date(year, 1, 1), date(year, 12, 31), "synpunkter"),
                rows(app, "SELECT tenant_id, year, number, status FROM cases ORDER BY id"),
            )

    before = counts()
    periods(arvika=(12, {}))
    (outcome,) = run(app, member="arvika")
    assert outcome.thinned == 2
    assert counts() == before


def test_a_member_that_has_left_is_thinned_like_any_other(app, client, periods):
    reference = submit(client, member="grums")["reference"]
    close(app, reference, NOW - timedelta(days=400))
    periods(grums=(12, {}))
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).where(Tenant.slug == "grums").values(status="closed"))
        session.commit()
    try:
        (outcome,) = run(app, member="grums")
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(sa.update(Tenant).where(Tenant.slug == "grums").values(status="active"))
            session.commit()
    assert outcome.error is None and outcome.services[0].thinned == [reference]


def test_thinning_refuses_an_open_or_recent_case_even_when_asked_directly(app, client):
    open_one = submit(client)["reference"]
    recent = submit(client)["reference"]
    close(app, recent, NOW - timedelta(days=20))
    with app.app_context():
        tenant_id = db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant_id)
        for reference in (open_one, recent):
            case = db.session.scalar(sa.select(Case).filter_by(reference=reference))
            with pytest.raises(retention_operations.NotDue):
                retention_operations.thin_cases(
                    db.session, [case], Period(1, MEMBER), upload_root=Path("/nowhere"), now=NOW
                )
        db.session.rollback()
        db.session.remove()
    assert {r[0] for r in rows(app, "SELECT thinned_at FROM cases")} == {None}
