"""Staff accounts: creating them, signing in and out, and who sees which inbox."""

import re

import pytest
import sqlalchemy as sa
from conftest import count_all

from samverkan.accounts.models import Membership, User
from samverkan.audit.models import AuditEntry
from samverkan.database_roles import maintenance_session
from samverkan.tenancy.models import Tenant

PASSWORD = "korrekt-häst-batteri"
ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}


def create(app, email, tenant="arvika", role="case_worker", password=PASSWORD):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--tenant",
            tenant,
            "--role",
            role,
            "--password",
            password,
            "--name",
            "Anna Handläggare",
            email,
        ]
    )
    return result


@pytest.fixture
def anna(app):
    result = create(app, "anna@arvika.example")
    assert result.exit_code == 0, result.output
    return "anna@arvika.example"


def sign_in(client, read_csrf, email, password=PASSWORD, tenant="arvika"):
    page = client.get(f"/{tenant}/staff/logga-in")
    return client.post(
        f"/{tenant}/staff/logga-in",
        data={"csrf_token": read_csrf(page.text), "email": email, "password": password},
    )


def test_users_create_makes_an_account_with_a_role_at_one_member(app, anna):
    with app.app_context(), maintenance_session() as session:
        user = session.scalar(sa.select(User).filter_by(email=anna))
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash
        roles = session.execute(sa.select(Membership.tenant_id, Membership.role)).all()
        assert len(roles) == 1 and roles[0].role == "case_worker"


def test_users_create_refuses_a_short_password_and_an_unknown_member(app):
    short = create(app, "b@arvika.example", password="kort")
    assert short.exit_code != 0 and "minst 12 tecken" in short.output
    unknown = create(app, "c@arvika.example", tenant="gotland")
    assert unknown.exit_code != 0 and "no member 'gotland'" in unknown.output
    assert count_all(app, "users") == 0


def test_a_case_worker_signs_in_and_sees_only_their_members_cases(client, read_csrf, anna):
    for member in ("arvika", "eda"):
        client.post(f"/api/v1/tenants/{member}/services/synpunkter/submissions", json=ANSWERS)
    assert (
        client.get("/arvika/staff/")
        .headers["Location"]
        .startswith("/arvika/staff/logga-in?next=/arvika/staff/")
    )
    response = sign_in(client, read_csrf, anna)
    assert response.status_code == 303
    inbox = client.get(response.headers["Location"])
    assert inbox.status_code == 200
    assert re.findall(r">([A-Z]{3}-\d{4}-\d{6})<", inbox.text) == [
        re.search(r"ARV-\d{4}-000001", inbox.text).group(0)
    ]
    assert "EDA-" not in inbox.text
    assert inbox.headers["Cache-Control"] == "no-store"


def test_wrong_password_and_unknown_address_get_the_same_answer(client, read_csrf, anna):
    wrong = sign_in(client, read_csrf, anna, password="fel-lösenord-123")
    unknown = sign_in(client, read_csrf, "ingen@arvika.example")
    assert wrong.status_code == unknown.status_code == 401
    message = "Fel e-postadress eller lösenord, eller så har du inget konto här."
    assert message in wrong.text and message in unknown.text


def test_staff_of_one_member_cannot_sign_in_at_or_open_another(client, read_csrf, anna):
    assert sign_in(client, read_csrf, anna, tenant="eda").status_code == 401
    assert sign_in(client, read_csrf, anna).status_code == 303
    assert client.get("/eda/staff/").status_code == 404  # as if it did not exist
    assert client.get("/arvika/staff/").status_code == 200


def test_signing_in_renews_the_session(client, read_csrf, anna):
    client.get("/arvika/e/synpunkter/steg/synpunkt")
    with client.session_transaction() as before:
        before["drafts"] = {"1:synpunkter": "a-draft"}
    sign_in(client, read_csrf, anna)
    with client.session_transaction() as after:
        assert "drafts" not in after
        assert "_user_id" in after


def test_signing_out_ends_the_session_on_the_server(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    stolen = client.get_cookie("session").value
    inbox = client.get("/arvika/staff/")
    out = client.post("/arvika/staff/logga-ut", data={"csrf_token": read_csrf(inbox.text)})
    assert out.status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", stolen, domain="localhost")
    assert thief.get("/arvika/staff/").status_code == 302  # back to sign-in


def test_deactivating_a_user_ends_their_session(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    assert client.get("/arvika/staff/").status_code == 200
    with app.app_context(), maintenance_session() as session:
        session.scalar(sa.select(User).filter_by(email=anna)).active = False
        session.commit()
    assert client.get("/arvika/staff/").status_code == 302


def test_failed_sign_ins_are_throttled_per_account(client, read_csrf, anna, caplog):
    for _ in range(5):
        assert sign_in(client, read_csrf, anna, password="fel-lösenord-123").status_code == 401
    blocked = sign_in(client, read_csrf, anna)  # even the right password, for now
    assert blocked.status_code == 429
    assert "För många försök" in blocked.text
    # The limit's log line names the account by a digest, never by what was typed (a
    # password typed into the e-mail box would be written there as it is).
    breach = [r.getMessage() for r in caplog.records if "exceeded" in r.getMessage()]
    assert breach and all(anna not in line for line in breach)


def test_after_sign_in_only_a_path_on_the_members_staff_pages_is_followed(client, read_csrf, anna):
    for target in ("https://evil.example/", "//evil.example/", "/eda/staff/"):
        page = client.get("/arvika/staff/logga-in")  # signing in renews the CSRF token too
        response = client.post(
            f"/arvika/staff/logga-in?next={target}",
            data={"csrf_token": read_csrf(page.text), "email": anna, "password": PASSWORD},
        )
        assert response.headers["Location"] == "/arvika/staff/"


def test_demo_accounts_are_one_admin_and_one_case_worker_per_member_and_two_at_the_hub(
    app, client, read_csrf
):
    result = app.test_cli_runner().invoke(args=["users", "demo"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()[1:]]
    assert len(lines) == 34
    hub = [line for line in lines if line[0] == "/hub/"]
    assert [line[1] for line in hub] == [
        "navet@karlstad.demo.invalid",
        "kontaktcenter@karlstad.demo.invalid",
    ]
    path, email, password = next(
        line for line in lines if line[1] == "handlaggare@kil.demo.invalid"
    )
    assert path == "/kil/staff/"
    assert sign_in(client, read_csrf, email, password, tenant="kil").status_code == 303
    again = app.test_cli_runner().invoke(args=["users", "demo"])  # runs again without error
    assert again.exit_code == 0
    assert count_all(app, "users") == 34


def test_users_deactivate_ends_sessions_and_refuses_sign_in(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    assert client.get("/arvika/staff/").status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "deactivate", anna])
    assert result.exit_code == 0, result.output
    assert client.get("/arvika/staff/").status_code == 302
    assert sign_in(app.test_client(), read_csrf, anna).status_code == 401
    unknown = app.test_cli_runner().invoke(args=["users", "deactivate", "ingen@arvika.example"])
    assert unknown.exit_code != 0 and "no account for ingen@arvika.example" in unknown.output


def logged(app, *actions) -> list[tuple]:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.select(Tenant.slug, AuditEntry.action, AuditEntry.actor, AuditEntry.detail)
            .join(Tenant, Tenant.id == AuditEntry.tenant_id)
            .where(AuditEntry.action.in_(actions))
            .order_by(AuditEntry.id)
        ).all()


def test_role_and_account_changes_from_the_command_line_are_in_each_members_log(app):
    """Granting an administrator's role, or the hub's, is the most sensitive change there
    is: the command line leaves the same trace the staff pages do."""
    assert create(app, "eva@arvika.example").exit_code == 0
    assert create(app, "eva@arvika.example", tenant="eda", role="tenant_admin").exit_code == 0
    assert create(app, "eva@arvika.example", role="tenant_admin").exit_code == 0
    cli = app.test_cli_runner()
    assert cli.invoke(args=["users", "deactivate", "eva@arvika.example"]).exit_code == 0
    assert cli.invoke(args=["users", "activate", "eva@arvika.example"]).exit_code == 0
    entries = logged(app, "staff.role_granted", "staff.deactivated", "staff.activated")
    assert [(slug, action, actor) for slug, action, actor, _ in entries[:3]] == [
        ("arvika", "staff.role_granted", "cli"),
        ("eda", "staff.role_granted", "cli"),
        ("arvika", "staff.role_granted", "cli"),
    ]
    # One entry in each member's log (in no particular order between the members).
    assert sorted((action, slug, actor) for slug, action, actor, _ in entries[3:]) == [
        ("staff.activated", "arvika", "cli"),
        ("staff.activated", "eda", "cli"),
        ("staff.deactivated", "arvika", "cli"),
        ("staff.deactivated", "eda", "cli"),
    ]
    assert [action for _, action, _, _ in entries[3:5]] == ["staff.deactivated"] * 2
    assert entries[2][3] == {"from": "case_worker", "to": "tenant_admin"}
    # The same role again changes nothing and logs nothing.
    assert create(app, "eva@arvika.example", role="tenant_admin").exit_code == 0
    assert len(logged(app, "staff.role_granted")) == 3
    # The hub's roles are the hub's log's, not Karlstad's own.
    assert create(app, "navet@karlstad.example", tenant="karlstad", role="hub_admin").exit_code == 0
    *_, (slug, _, _, detail) = logged(app, "staff.role_granted")
    assert slug == "karlstad" and detail["hub_log"] is True


def test_a_hub_role_opens_no_cases_of_the_hub_member_itself(app, client, read_csrf):
    assert create(app, "navet@karlstad.example", tenant="karlstad", role="hub_admin").exit_code == 0
    signed_in = sign_in(client, read_csrf, "navet@karlstad.example", tenant="karlstad")
    assert signed_in.headers["Location"] == "/hub/"
    assert client.get("/karlstad/staff/").status_code == 404
    assert client.get("/hub/").status_code == 200
    refused = create(app, "x@arvika.example", tenant="arvika", role="hub_admin")
    assert refused.exit_code != 0 and "is a role at the hub" in refused.output


def test_users_create_on_an_existing_account_keeps_its_password_and_says_so(app, anna):
    """It printed a new password that was never set; and gave a deactivated account a role
    as if it could use it."""
    runner = app.test_cli_runner()
    args = ["users", "create", "--tenant", "eda", "--role", "case_worker"]
    generated = runner.invoke(args=[*args, "--generate-password", anna])
    assert generated.exit_code == 1 and "password is not changed here" in generated.output
    assert "password:" not in generated.output
    other = runner.invoke(args=[*args, "--password", "Ett-annat-langt-1!", anna])
    assert other.exit_code == 1 and "password is not changed here" in other.output
    assert create(app, anna, tenant="eda").exit_code == 0  # its own password: a role at Eda
    assert runner.invoke(args=["users", "deactivate", anna]).exit_code == 0
    deactivated = runner.invoke(args=[*args, anna])
    assert deactivated.exit_code == 1 and "users activate" in deactivated.output
    assert runner.invoke(args=["users", "activate", anna]).exit_code == 0
    assert runner.invoke(args=[*args, anna]).exit_code == 0


def test_users_create_refuses_an_address_nobody_could_sign_in_with(app):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--tenant",
            "arvika",
            "--role",
            "case_worker",
            "--generate-password",
            "not-an-email",
        ]
    )
    assert result.exit_code == 1 and "is not an e-mail address" in result.output
