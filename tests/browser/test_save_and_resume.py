"""Save and continue later in a real browser, with the keyboard only: half a step answered,
saved, the link sent by e-mail (a bad address first), and opened in another browser, which
finds the answers; the save page (with and without errors) and the expired-link page pass
axe-core."""

from browser.browser_support import audit, focused, tab_to

STEP_ONE = "/arvika/e/felanmalan/steg/fel"
DESCRIPTION = "Lampan vid torget är trasig."


def test_save_and_resume_with_the_keyboard(browser, live_server, page, axe, screenshots):
    page.goto(STEP_ONE)
    # The first choice (Gata …), by Space, then the description typed: the location,
    # which is required, is left empty.
    tab_to(page, lambda e: e["id"] == "f-kind-1")
    page.keyboard.press("Space")
    tab_to(page, lambda e: e["id"] == "f-description")
    page.keyboard.type(DESCRIPTION)
    tab_to(page, lambda e: e["tag"] == "button" and e["text"] == "Spara och fortsätt senare")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/arvika/e/felanmalan/sparat")
    assert page.locator("h1").inner_text() == "Dina svar är sparade"
    link = page.locator("#resume-link").inner_text()
    assert link.startswith(f"{live_server}/arvika/e/felanmalan/fortsatt/")
    problems = audit(page, axe, screenshots, "12-saved")

    # A mistyped address: the error summary takes focus and leads to the field.
    tab_to(page, lambda e: e["id"] == "f-email")
    page.keyboard.type("anna.exempel.se")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.title().startswith("Fel:")
    assert focused(page)["id"] == "error-summary"
    problems += audit(page, axe, screenshots, "12-saved-errors")
    tab_to(page, lambda e: e["tag"] == "a" and e["text"].startswith("E-postadress"))
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "f-email"
    page.keyboard.press("Control+A")
    page.keyboard.type("anna@exempel.se")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Vi har skickat länken till anna@exempel.se." in page.locator("main").inner_text()

    # Another browser, without this one's cookies, opens the link.
    other = browser.new_context(base_url=live_server, locale="sv-SE")
    try:
        resumed = other.new_page()
        resumed.goto(link)
        # It asks first: whoever opens the link takes the answers away from where they
        # were saved.
        assert resumed.locator("h1").inner_text() == "Fortsätt med sparade svar"
        problems += audit(resumed, axe, screenshots, "12-take-up")
        with resumed.expect_navigation():
            resumed.click("main form button")
        assert resumed.url.endswith(STEP_ONE)
        assert resumed.input_value("#f-description") == DESCRIPTION
        assert resumed.is_checked("#f-kind-1")
        assert resumed.input_value("#f-location") == ""
    finally:
        other.close()

    # An unknown link: a page that says so and offers to start again.
    page.goto(link[:-6] + "xxxxxx")
    assert page.locator("h1").inner_text() == "Utkastet finns inte"
    problems += audit(page, axe, screenshots, "12-draft-gone")
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == "Börja om från början")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/arvika/e/felanmalan")
    assert problems == []
