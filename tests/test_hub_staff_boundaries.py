"""The hub's staff sign in at the hub member (Karlstad) but are not Karlstad's staff: they
sign out and guard their accounts like everyone else, and Karlstad's own staff neither
manage their API tokens nor give them Karlstad's cases (access.py, the hub's roles)."""

import sqlalchemy as sa
from api_support import WITH_REPLY
from test_accounts import create, sign_in

from samverkan.database_roles import maintenance_session

HUB_ADMIN = "navet@karlstad.example"


def signed_in(app, read_csrf, email, role, tenant="karlstad"):
    assert create(app, email, tenant=tenant, role=role).exit_code == 0, email
    browser = app.test_client()
    assert sign_in(browser, read_csrf, email, tenant=tenant).status_code == 303
    return browser


def user_id(app, email: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text("SELECT id FROM users WHERE email = :email"), {"email": email}
        ).scalar_one()


def hub_token(app, email: str, label: str = "Ekonomisystemet") -> str:
    made = app.test_cli_runner().invoke(
        args=["users", "token", "--tenant", "karlstad", "--label", label, email]
    )
    assert made.exit_code == 0, made.output
    return made.output.strip().splitlines()[-1]


def test_the_hubs_staff_sign_out_from_the_hubs_pages(app, read_csrf):
    hub = signed_in(app, read_csrf, HUB_ADMIN, "hub_admin")
    page = hub.get("/hub/")
    assert 'action="/karlstad/staff/logga-ut"' in page.text
    out = hub.post("/karlstad/staff/logga-ut", data={"csrf_token": read_csrf(page.text)})
    assert out.status_code == 303
    assert hub.get("/hub/").status_code == 302  # to sign in: the session ended


def test_the_hubs_staff_turn_on_two_step_verification_in_the_hubs_frame(app, read_csrf):
    hub = signed_in(app, read_csrf, HUB_ADMIN, "hub_admin")
    overview = hub.get("/hub/")
    assert 'href="/hub/tvastegsverifiering"' in overview.text
    page = hub.get("/hub/tvastegsverifiering")
    assert page.status_code == 200
    assert "<h1>Tvåstegsverifiering</h1>" in page.text and "<svg" in page.text
    assert 'href="/hub/kontaktcenter"' in page.text  # the hub's menu, not Karlstad's inbox
    wrong = hub.post(
        "/hub/tvastegsverifiering",
        data={"csrf_token": read_csrf(page.text), "action": "enable", "code": "000000"},
    )
    assert wrong.status_code == 422 and "Koden stämmer inte" in wrong.text
    # Karlstad's own staff page stays Karlstad's staff's.
    assert hub.get("/karlstad/staff/tvastegsverifiering").status_code == 404


def test_karlstads_administrator_neither_sees_nor_revokes_the_hubs_token(app, read_csrf):
    assert create(app, HUB_ADMIN, tenant="karlstad", role="hub_admin").exit_code == 0
    secret = hub_token(app, HUB_ADMIN)
    works = {"Authorization": f"Bearer {secret}"}
    # A malformed period: 422 while the token works, 404 once it does not.
    assert app.test_client().get("/api/v1/hub/allocations/x", headers=works).status_code == 422
    admin = signed_in(app, read_csrf, "admin@karlstad.example", "tenant_admin")
    page = admin.get("/karlstad/staff/api-nycklar")
    assert "Ekonomisystemet" not in page.text and HUB_ADMIN not in page.text
    with app.app_context(), maintenance_session() as session:
        token_id = session.execute(sa.text("SELECT id FROM api_tokens")).scalar_one()
    revoked = admin.post(
        f"/karlstad/staff/api-nycklar/{token_id}/aterkalla",
        data={"csrf_token": read_csrf(page.text)},
    )
    assert revoked.status_code == 404
    assert app.test_client().get("/api/v1/hub/allocations/x", headers=works).status_code == 422


def test_karlstads_cases_go_to_karlstads_staff_not_the_hubs(app, read_csrf, client):
    submitted = client.post(
        "/api/v1/tenants/karlstad/services/synpunkter/submissions", json=WITH_REPLY
    )
    reference = submitted.get_json()["reference"]
    assert (
        create(app, "kc@karlstad.example", tenant="karlstad", role="contact_centre").exit_code == 0
    )
    agent = user_id(app, "kc@karlstad.example")
    worker = signed_in(app, read_csrf, "hl@karlstad.example", "case_worker")
    url = f"/karlstad/staff/arenden/{reference}"
    page = worker.get(url)
    assert f'<option value="{agent}"' not in page.text  # not among the colleagues
    refused = worker.post(
        url + "/tilldela", data={"csrf_token": read_csrf(page.text), "assignee": agent}
    )
    assert refused.status_code == 422
    me = user_id(app, "hl@karlstad.example")
    taken = worker.post(
        url + "/tilldela", data={"csrf_token": read_csrf(page.text), "assignee": me}
    )
    assert taken.status_code == 303


def looked_up_by_the_contact_centre(app, read_csrf, references: list[str]) -> None:
    agent = signed_in(app, read_csrf, "kc2@karlstad.example", "contact_centre")
    for reference in references:
        page = agent.get("/hub/kontaktcenter")
        found = agent.post(
            "/hub/kontaktcenter", data={"csrf_token": read_csrf(page.text), "referens": reference}
        )
        assert found.status_code == 200 and reference in found.text


def test_the_hubs_log_is_the_hubs_and_karlstads_log_karlstads(app, read_csrf, client):
    """The contact centre looks up an Arvika case and a Karlstad one: Arvika's log has its
    own, Karlstad's administrators see only Karlstad's, the hub's administrators both."""
    arvika, karlstad = (
        client.post(
            f"/api/v1/tenants/{member}/services/synpunkter/submissions", json=WITH_REPLY
        ).get_json()["reference"]
        for member in ("arvika", "karlstad")
    )
    looked_up_by_the_contact_centre(app, read_csrf, [arvika, karlstad])
    karlstads_admin = signed_in(app, read_csrf, "admin@karlstad.example", "tenant_admin")
    karlstads_log = karlstads_admin.get("/karlstad/admin/logg").text
    assert arvika not in karlstads_log
    assert karlstad in karlstads_log and "Kontaktcenter: sökte ärende" in karlstads_log
    arvikas_admin = signed_in(app, read_csrf, "admin@arvika.example", "tenant_admin", "arvika")
    arvikas_log = arvikas_admin.get("/arvika/admin/logg").text
    assert arvika in arvikas_log and karlstad not in arvikas_log
    hub = signed_in(app, read_csrf, HUB_ADMIN, "hub_admin")
    assert 'href="/hub/logg"' in hub.get("/hub/").text
    hubs_log = hub.get("/hub/logg")
    assert hubs_log.status_code == 200
    assert arvika in hubs_log.text and karlstad in hubs_log.text
    # The hub's log is the hub administrators': Karlstad's own staff and the agents get 404.
    assert karlstads_admin.get("/hub/logg").status_code == 404
    agent = app.test_client()
    assert sign_in(agent, read_csrf, "kc2@karlstad.example", tenant="karlstad").status_code == 303
    assert agent.get("/hub/logg").status_code == 404
