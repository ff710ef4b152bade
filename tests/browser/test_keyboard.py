"""A citizen completes every starter e-service with the keyboard only: Tab, Space, Enter and
typing, never a click. Then the receipt and the status page, still by keyboard."""

import re

import pytest

from browser.browser_support import (
    SHOWN_FROM_E_ID,
    answer_step_with_keyboard,
    assert_filled_from_e_id,
    filled_from_e_id,
    focused,
    login_required,
    sign_in_from_the_start_page,
    tab_to,
)
from samverkan.settings import PROJECT_ROOT

SERVICES = sorted(p.parent.name for p in (PROJECT_ROOT / "services").glob("*/definition.toml"))
FOCUS_RING = """() => {
  const style = getComputedStyle(document.activeElement);
  return {style: style.outlineStyle, width: style.outlineWidth};
}"""
REFERENCE = re.compile(r"ARV-\d{4}-\d{6}")


@pytest.mark.parametrize("service", SERVICES)
def test_a_citizen_completes_the_e_service_with_the_keyboard_only(
    page, service, tmp_path, e_id_provider
):
    page.goto("/arvika/")
    # The skip link is the first thing Tab reaches, and it leads to the content.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Hoppa till innehållet"
    # Focus is visible: the skip link comes into view, and everything focused gets a ring.
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
    assert page.evaluate(FOCUS_RING) == {"style": "solid", "width": "3px"}
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    tab_to(
        page,
        lambda e: (
            e["tag"] == "a"
            and f"/e/{service}" in page.evaluate("document.activeElement.getAttribute('href')")
        ),
    )
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/arvika/e/{service}")
    with_e_id = login_required(service)
    if with_e_id:
        # Signed in with e-ID first, as Tolvan: back at the first step.
        sign_in_from_the_start_page(page, e_id_provider)
        assert f"/arvika/e/{service}/steg/" in page.url, page.url
    else:
        tab_to(page, lambda e: e["text"] == "Starta e-tjänsten")
        assert page.evaluate(FOCUS_RING) == {"style": "solid", "width": "3px"}
        with page.expect_navigation():
            page.keyboard.press("Enter")

    steps = 0
    while "/kontrollera" not in page.url:
        steps += 1
        assert steps <= 8, f"stuck on {page.url}"
        heading = page.locator("h1").inner_text()
        # What the e-ID fills in is shown, read-only; Tab passes those fields by.
        shown = assert_filled_from_e_id(page, service)
        passed = []
        answered = answer_step_with_keyboard(page, tmp_path, passed_read_only=passed)
        assert sorted(passed) == sorted(shown), (heading, passed, shown)
        assert answered or passed, f"nothing to answer on '{heading}'"
        assert page.locator("#error-summary").count() == 0, page.locator(
            "#error-summary"
        ).inner_text()

    assert page.locator("h1").inner_text() == "Kontrollera dina svar innan du skickar"
    # The answers to check include what the e-ID filled in.
    answers = page.locator("main").inner_text()
    for step in filled_from_e_id(service).values():
        for kind in step.values():
            assert SHOWN_FROM_E_ID[kind] in answers, (kind, answers)
    tab_to(page, lambda e: e["tag"] == "button" and e["text"] == "Skicka in")
    assert page.evaluate(FOCUS_RING) == {"style": "solid", "width": "3px"}
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/kvitto")

    receipt = page.locator("main").inner_text()
    assert "Ditt ärende är mottaget" in receipt
    reference = REFERENCE.search(receipt).group(0)
    tab_to(page, lambda e: e["tag"] == "a" and "status-link" in e["klass"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == f"Ärende {reference}"
    assert "Mottaget" in page.locator("main").inner_text()
