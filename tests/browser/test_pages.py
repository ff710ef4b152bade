"""Every kind of page a citizen or staff member meets, as it is served: no WCAG 2.1 A or AA
violation that axe-core finds, no sideways scrolling at 320 px (400 % zoom), and pictures at
1280 and 375 px wide in tests/browser/screenshots/ for a reviewer."""

import re

from identity_support import register_person

from browser.browser_support import (
    SHOWN_FROM_E_ID,
    SIGN_IN_AND_START,
    SUBMIT,
    answer_step_with_keyboard,
    audit,
    focused,
    read_only_fields,
    sign_in_at_provider,
    sign_in_from_the_start_page,
    tab_to,
)

PASSWORD = "korrekt-häst-batteri"
ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}


def create_user(app, email: str, tenant: str, role: str) -> str:
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--tenant", tenant, "--role", role]
        + ["--password", PASSWORD, "--name", "Anna Testsson", email]
    )
    assert result.exit_code == 0, result.output
    return email


def sign_in(page, tenant: str, email: str) -> None:
    page.goto(f"/{tenant}/staff/logga-in")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.press("#f-password", "Enter")
    assert "/logga-in" not in page.url, page.locator("main").inner_text()


def submit(app, tenant="arvika", service="synpunkter") -> str:
    response = app.test_client().post(
        f"/api/v1/tenants/{tenant}/services/{service}/submissions", json=ANSWERS
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference"]


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status == 200, f"{path} answered {response.status}"


def empty_submit(page) -> None:
    with page.expect_navigation():
        page.locator(SUBMIT).last.press("Enter")


def test_the_citizen_pages(page, axe, screenshots, tmp_path):
    problems = []
    visit(page, "/")
    problems += audit(page, axe, screenshots, "01-all-members")
    visit(page, "/arvika/")
    problems += audit(page, axe, screenshots, "02-home")
    assert page.goto("/arvika/finns-inte").status == 404
    problems += audit(page, axe, screenshots, "02-not-found")
    for path, name in (("tillganglighet", "03-accessibility"), ("integritet", "04-privacy")):
        visit(page, f"/arvika/{path}")
        problems += audit(page, axe, screenshots, name)

    # Förskoleplats has most kinds of field: every step with errors, then answered.
    visit(page, "/arvika/e/forskoleplats")
    problems += audit(page, axe, screenshots, "05-start")
    page.locator("main a.button").press("Enter")
    page.wait_for_load_state()
    step = 1
    problems += audit(page, axe, screenshots, "06-step-1")
    while "/kontrollera" not in page.url:
        empty_submit(page)
        assert page.locator("#error-summary").count() == 1, f"step {step} had no errors"
        problems += audit(page, axe, screenshots, f"06-step-{step}-errors")
        answer_step_with_keyboard(page, tmp_path)
        step += 1
        if "/kontrollera" not in page.url:
            problems += audit(page, axe, screenshots, f"06-step-{step}")
    problems += audit(page, axe, screenshots, "07-check-answers")
    with page.expect_navigation():
        page.get_by_role("button", name="Skicka in").press("Enter")
    problems += audit(page, axe, screenshots, "08-receipt")
    visit(page, page.locator("a.status-link").get_attribute("href"))
    problems += audit(page, axe, screenshots, "09-status")
    page.get_by_role("link", name=re.compile("Registerutdrag")).press("Enter")
    page.wait_for_load_state()
    problems += audit(page, axe, screenshots, "10-register-extract")
    assert problems == []


def test_the_staff_pages(app, page, axe, screenshots):
    problems = []
    reference = submit(app)
    visit(page, "/arvika/staff/logga-in")
    problems += audit(page, axe, screenshots, "20-staff-sign-in")
    page.fill("#f-email", "nobody@arvika.example")
    with page.expect_navigation():
        page.press("#f-email", "Enter")
    problems += audit(page, axe, screenshots, "20-staff-sign-in-errors")

    sign_in(page, "arvika", create_user(app, "admin@arvika.example", "arvika", "tenant_admin"))
    for path, name in (
        ("/arvika/staff/", "21-inbox"),
        (f"/arvika/staff/arenden/{reference}", "22-case"),
        (f"/arvika/staff/arenden/{reference}/registerutdrag", "23-staff-extract"),
        ("/arvika/staff/api-nycklar", "24-api-tokens"),
        ("/arvika/staff/tvastegsverifiering", "25-two-factor"),
        ("/arvika/admin/", "30-admin"),
        ("/arvika/admin/profil", "31-admin-profile"),
        ("/arvika/admin/e-tjanster", "32-admin-services"),
        ("/arvika/admin/e-tjanster/forskoleplats/installningar", "33-admin-service-settings"),
        ("/arvika/admin/personal", "34-admin-staff"),
        ("/arvika/admin/logg", "35-admin-log"),
    ):
        visit(page, path)
        problems += audit(page, axe, screenshots, name)
    # A profile saved with a colour that fails contrast: the page with its errors.
    visit(page, "/arvika/admin/profil")
    page.fill("#f-primary_colour", "#ffff00")
    with page.expect_navigation():
        page.press("#f-primary_colour", "Enter")
    assert page.locator(".error-summary").count() == 1
    problems += audit(page, axe, screenshots, "31-admin-profile-errors")
    assert problems == []


def test_the_warning_before_an_idle_staff_session_ends(app, page, axe, screenshots, monkeypatch):
    """WCAG 2.2.1 for staff too: a message half-written for half an hour was lost at its
    sending. (The idle time is made a little over three minutes, so it comes at once.)"""
    monkeypatch.setitem(app.config, "STAFF_IDLE_MINUTES", 3.05)
    monkeypatch.setitem(app.config, "KEYED_CACHE_SECONDS", 0)  # the frame with this figure
    sign_in(page, "arvika", create_user(app, "handlaggare@arvika.example", "arvika", "case_worker"))
    visit(page, "/arvika/staff/")
    warning = page.locator("#session-warning")
    warning.wait_for(state="visible", timeout=15_000)
    assert focused(page)["text"] == "Fortsätt vara inloggad"
    problems = audit(page, axe, screenshots, "26-staff-session-ending")
    with page.expect_response(lambda r: r.url.endswith("/personal/fortsatt-inloggad")) as kept:
        page.keyboard.press("Enter")
    assert kept.value.json()["seconds_left"] > 180
    warning.wait_for(state="hidden")
    assert page.url.endswith("/arvika/staff/")
    assert problems == []


def test_a_session_at_the_end_of_its_lifetime_says_it_cannot_go_on(app, page, monkeypatch):
    """Within two minutes of a session's whole lifetime, 'Fortsätt' can give no more time:
    the warning says so instead of coming back at once, and keeps focus."""
    monkeypatch.setitem(app.config, "STAFF_IDLE_MINUTES", 3.05)
    monkeypatch.setitem(app.config, "KEYED_CACHE_SECONDS", 0)
    sign_in(page, "arvika", create_user(app, "slut@arvika.example", "arvika", "case_worker"))
    visit(page, "/arvika/staff/")
    warning = page.locator("#session-warning")
    warning.wait_for(state="visible", timeout=15_000)
    monkeypatch.setitem(app.config, "STAFF_SESSION_HOURS", 0.033)  # under two minutes left
    with page.expect_response(lambda r: r.url.endswith("/personal/fortsatt-inloggad")):
        page.keyboard.press("Enter")
    page.locator("#session-warning form").wait_for(state="hidden")
    assert warning.is_visible()
    assert "Inloggningen kan inte förlängas mer" in warning.inner_text()
    assert page.evaluate("document.activeElement.id") == "session-warning"


def test_the_hub_pages(app, page, axe, screenshots):
    problems = []
    submit(app)
    sign_in(page, "karlstad", create_user(app, "hub@karlstad.example", "karlstad", "hub_admin"))
    for path, name in (
        ("/hub/", "40-hub"),
        ("/hub/medlemmar/ny", "41-hub-new-member"),
        ("/hub/medlemmar/arvika/avsluta", "42-hub-offboard"),
        ("/hub/e-tjanster", "43-hub-services"),
        ("/hub/kostnader", "44-hub-costs"),
        ("/hub/kostnader/ny", "45-hub-cost-pool"),
        ("/hub/kostnader/jamfor", "46-hub-cost-compare"),
        ("/hub/kontaktcenter", "47-hub-contact-centre"),
        ("/hub/kontaktcenter/registrera", "48-hub-contact-register"),
    ):
        visit(page, path)
        problems += audit(page, axe, screenshots, name)
    visit(page, "/hub/medlemmar/ny")
    with page.expect_navigation():
        page.locator(SUBMIT).last.press("Enter")
    problems += audit(page, axe, screenshots, "41-hub-new-member-errors")
    assert problems == []


def test_a_cost_pool_and_its_run(app, page, axe, screenshots, read_csrf):
    """The hub's pages of one pool and one allocation run (made through the app first)."""
    from test_accounts import sign_in as sign_in_client
    from test_hub_costs import pool_form, pools, run_period

    email = create_user(app, "kostnader@karlstad.example", "karlstad", "hub_admin")
    client = app.test_client()
    assert sign_in_client(client, read_csrf, email, tenant="karlstad").status_code == 303
    token = read_csrf(client.get("/hub/kostnader/ny").text)
    period = "2100-12"  # outside the years test_hub_costs takes its periods from
    made = client.post("/hub/kostnader/ny", data=pool_form(period, token, amount="1 000,00"))
    assert made.status_code == 303, made.text
    ran = run_period(client, token, period)
    assert ran.status_code == 303, ran.text
    run_id = int(ran.headers["Location"].rsplit("/", 1)[1])
    pool_id = pools(app, period)[0].id
    sign_in(page, "karlstad", email)
    problems = []
    for path, name in (
        (f"/hub/kostnader/pool/{pool_id}", "49-hub-pool"),
        (f"/hub/kostnader/pool/{pool_id}/ta-bort", "50-hub-pool-remove"),
        (f"/hub/kostnader/korning/{run_id}", "51-hub-run"),
        (f"/hub/kostnader/korning/{run_id}/arvika", "52-hub-run-member"),
    ):
        visit(page, path)
        problems += audit(page, axe, screenshots, name)
    assert problems == []


def send_with_keyboard(page, tmp_path, tenant: str) -> str:
    """From the check answers page or any step before it: every step by keyboard, then
    Skicka in; returns the receipt's reference."""
    while "/kontrollera" not in page.url:
        answer_step_with_keyboard(page, tmp_path)
    with page.expect_navigation():
        page.get_by_role("button", name="Skicka in").press("Enter")
    assert page.url.endswith("/kvitto"), page.url
    prefix = {"arvika": "ARV", "kil": "KIL"}[tenant]
    return re.search(rf"{prefix}-\d{{4}}-\d{{6}}", page.locator("main").inner_text()).group(0)


def test_the_e_id_pages(page, axe, screenshots, e_id_provider, tmp_path):
    """An e-service that needs e-ID, signed in as Tolvan: its start page, the step the e-ID
    fills in, check answers, the receipt, Mina ärenden with cases in two members, and
    signing out here and at the provider."""
    problems = []
    visit(page, "/arvika/e/registerutdrag")
    assert page.get_by_role("link", name=SIGN_IN_AND_START).count() == 1
    problems += audit(page, axe, screenshots, "60-e-id-start")
    sign_in_from_the_start_page(page, e_id_provider)
    assert page.url.endswith("/arvika/e/registerutdrag/steg/du"), page.url
    assert read_only_fields(page) == SHOWN_FROM_E_ID
    problems += audit(page, axe, screenshots, "61-e-id-prefilled-step")
    while "/kontrollera" not in page.url:
        answer_step_with_keyboard(page, tmp_path)
    assert all(value in page.locator("main").inner_text() for value in SHOWN_FROM_E_ID.values())
    problems += audit(page, axe, screenshots, "63-e-id-check-answers")
    arvika = send_with_keyboard(page, tmp_path, "arvika")
    problems += audit(page, axe, screenshots, "64-e-id-receipt")

    # Still signed in, Kil's start page starts the e-service at once.
    visit(page, "/kil/e/registerutdrag")
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == "Starta e-tjänsten")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    kil = send_with_keyboard(page, tmp_path, "kil")

    visit(page, "/mina-arenden")
    mine = page.locator("main").inner_text()
    for expected in (arvika, kil, "Arvika kommun", "Kils kommun", "Tolvan Tolvansson"):
        assert expected in mine, (expected, mine)
    problems += audit(page, axe, screenshots, "65-mina-arenden")

    # Signing out: here, then the provider's confirmation (its page), then back.
    tab_to(page, lambda e: e["tag"] == "button" and e["text"] == "Logga ut")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(f"{e_id_provider}/oauth2/end_session"), page.url
    with page.expect_navigation():
        page.get_by_role("button", name="End session").press("Enter")
    assert page.url.split("?")[0].endswith("/utloggad"), page.url
    assert page.locator("h1").inner_text() == "Du är utloggad"
    problems += audit(page, axe, screenshots, "66-signed-out")
    assert problems == []


def test_the_warning_before_an_idle_sign_in_ends(
    app, page, axe, screenshots, e_id_provider, monkeypatch
):
    """WCAG 2.2.1: two minutes before the sign-in would end the page says so, focus goes
    to "Fortsätt vara inloggad", and that starts the idle time again; focus goes back to
    where it was. (Here the idle time is a little over two minutes, so it comes at once.)"""
    monkeypatch.setitem(app.config, "CITIZEN_IDLE_MINUTES", 2.05)
    visit(page, "/arvika/e/registerutdrag")
    sign_in_from_the_start_page(page, e_id_provider)
    warning = page.locator("#session-warning")
    warning.wait_for(state="visible", timeout=15_000)
    assert focused(page)["text"] == "Fortsätt vara inloggad"
    assert "Du loggas snart ut" in warning.inner_text()
    problems = audit(page, axe, screenshots, "67-sign-in-ending")
    monkeypatch.setitem(app.config, "CITIZEN_IDLE_MINUTES", 30)
    with page.expect_response(lambda r: r.url.endswith("/fortsatt-inloggad")) as kept:
        page.keyboard.press("Enter")
    assert kept.value.json()["seconds_left"] > 29 * 60
    warning.wait_for(state="hidden")
    assert page.url.endswith("/arvika/e/registerutdrag/steg/du")  # the page stays
    assert problems == []


def test_a_cancelled_sign_in_and_an_e_id_without_a_personnummer(
    page, axe, screenshots, e_id_provider
):
    """Deny at the provider: "Inloggningen avbröts". Then try again as a foreign e-ID user,
    who has no personnummer: an e-service that takes it from the e-ID says it cannot be
    used with that e-ID and whom to turn to."""
    problems = []
    register_person(e_id_provider, "eidas-ee-38001085718", {"name": "Mari Tamm"})
    visit(page, "/kil/e/registerutdrag")
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == SIGN_IN_AND_START)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.expect_navigation():
        page.get_by_role("button", name="Deny").press("Enter")
    assert page.locator("h1").inner_text() == "Inloggningen avbröts"
    problems += audit(page, axe, screenshots, "67-e-id-cancelled")

    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == "Försök igen")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    sign_in_at_provider(page, "eidas-ee-38001085718")
    assert page.url.endswith("/kil/e/registerutdrag/steg/du"), page.url
    assert "behöver ditt svenska personnummer" in page.locator("main").inner_text()
    assert page.locator("input[name=personnummer]").count() == 0
    problems += audit(page, axe, screenshots, "62-e-id-without-personnummer")
    assert problems == []
