"""The language switch in a real browser: by keyboard, and without script, it keeps the
citizen on the same step with their answers; the English pages pass axe-core too."""

from browser.browser_support import SUBMIT, WIDTHS, audit, focused, tab_to

STEP_ONE = "/arvika/e/felanmalan/steg/fel"
ANSWERS = {"#f-description": "Lampan vid torget är trasig.", "#f-location": "Storgatan 1"}


def answer_the_first_step(page) -> None:
    page.goto(STEP_ONE)
    page.check("#f-kind-2")  # Gatubelysning
    for selector, text in ANSWERS.items():
        page.fill(selector, text)
    with page.expect_navigation():
        page.locator(SUBMIT).click()
    assert page.url.endswith("/steg/kontakt")


def test_the_switch_by_keyboard_keeps_the_step_and_the_answers(page, axe, screenshots):
    answer_the_first_step(page)
    assert page.get_attribute("html", "lang") == "sv"
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == "English")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/steg/kontakt")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Contact details"
    assert "Step 2 of 2" in page.locator("main").inner_text()
    problems = audit(page, axe, screenshots, "step-english")

    with page.expect_navigation():
        page.get_by_role("link", name="Back").click()
    assert page.locator("h1").inner_text() == "What do you want to report?"
    for selector, text in ANSWERS.items():
        assert page.input_value(selector) == text
    assert page.is_checked("#f-kind-2")

    with page.expect_navigation():
        page.locator(SUBMIT).click()
    page.check("#f-want_contact-2")  # No
    with page.expect_navigation():
        page.locator(SUBMIT).click()
    assert page.locator("h1").inner_text() == "Check your answers before you send"
    assert "Street lighting" in page.locator("main").inner_text()
    problems += audit(page, axe, screenshots, "check-english")
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == "Svenska")
    assert focused(page)["text"] == "Svenska"
    assert problems == []


def test_the_switch_works_without_script(browser, live_server):
    context = browser.new_context(
        base_url=live_server,
        java_script_enabled=False,
        viewport={"width": WIDTHS["phone"], "height": 800},
    )
    try:
        page = context.new_page()
        answer_the_first_step(page)
        with page.expect_navigation():
            page.get_by_role("link", name="English").click()
        assert page.url.endswith("/steg/kontakt")
        assert page.locator("h1").inner_text() == "Contact details"
        with page.expect_navigation():
            page.get_by_role("link", name="Svenska").click()
        assert page.locator("h1").inner_text() == "Kontaktuppgifter"
    finally:
        context.close()
