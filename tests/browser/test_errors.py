"""A failed step, as a keyboard and screen-reader user meets it: the page title says there
are errors, a summary at the top takes focus and links to each field (following a link puts
focus in the field), every input has a label, and hints and errors are tied to their input
with aria-describedby. Every step of every starter e-service."""

import pytest

from browser.browser_support import (
    SUBMIT,
    answer_step_with_keyboard,
    assert_filled_from_e_id,
    axe_violations,
    editable_fields,
    focused,
    login_required,
    read_only_fields,
    sign_in_from_the_start_page,
    tab_to,
)
from browser.test_keyboard import SERVICES

# What the page's structure says, read from the DOM after the failed submit.
STRUCTURE = """() => {
  const form = document.querySelector('main form[enctype="multipart/form-data"]');
  const inputs = [...form.querySelectorAll('input, textarea, select')]
    .filter(e => e.type !== 'hidden' && !e.closest('[hidden]'));
  const describedBy = e => (e.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  const owner = id => [...form.querySelectorAll('[aria-describedby]')]
    .find(e => describedBy(e).includes(id));
  const tied = sel => [...form.querySelectorAll(sel)].filter(e => !e.closest('[hidden]'))
    .map(e => {
      const o = owner(e.id);
      return {id: e.id, target: o ? o.id : null,
        tied: !!o && o.closest('.field') === e.closest('.field')};
    });
  const summary = document.querySelector('.error-summary');
  return {
    title: document.title,
    unlabelled: inputs.filter(e => e.labels.length === 0).map(e => e.name),
    errors: tied('.error-message'),
    hints: tied('.hint'),
    links: summary ? [...summary.querySelectorAll('a')].map(a => a.getAttribute('href')) : [],
    errorFields: [...form.querySelectorAll('.field--error')].length,
    // What the e-ID filled in is never in error: the e-ID's values are what is sent.
    readOnlyInError: inputs.filter(e => e.readOnly && e.closest('.field--error'))
      .map(e => e.name),
    // A single input in error is marked invalid; one that is not in error is not.
    invalidMismatch: inputs.filter(e => e.type !== 'radio' && e.type !== 'checkbox' ||
        e.closest('.field').querySelector('fieldset') === null)
      .filter(e => (e.getAttribute('aria-invalid') === 'true') !== !!e.closest('.field--error'))
      .map(e => e.name),
  };
}"""


def press_submit(page) -> None:
    tab_to(page, lambda e: e["tag"] == "button" and e["inForm"])
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.mark.parametrize("service", SERVICES)
def test_every_failed_step_leads_the_keyboard_to_each_error(page, service, tmp_path, e_id_provider):
    page.goto(f"/arvika/e/{service}")
    if login_required(service):
        sign_in_from_the_start_page(page, e_id_provider)
    else:
        tab_to(page, lambda e: e["text"] == "Starta e-tjänsten")
        with page.expect_navigation():
            page.keyboard.press("Enter")
    while "/kontrollera" not in page.url:
        shown = assert_filled_from_e_id(page, service)
        to_answer = editable_fields(page)
        before = page.url
        press_submit(page)  # nothing answered (what the e-ID filled in is sent as shown)
        where = f"{service}, {before}"
        if not to_answer:
            # Everything on the step comes from the e-ID: nothing can be wrong, on it goes.
            assert shown, where
            assert page.locator(".error-summary").count() == 0, where
            assert page.url != before, where
            continue
        found = page.evaluate(STRUCTURE)
        assert found["readOnlyInError"] == [], (where, found)
        assert read_only_fields(page) == shown, where
        assert found["title"].startswith("Fel: "), where
        # The summary has focus and is what a screen reader reads first.
        assert page.evaluate("document.activeElement.id") == "error-summary", where
        assert page.locator("#error-summary h2").inner_text().startswith("Det finns"), where
        assert found["unlabelled"] == [], where
        assert found["invalidMismatch"] == [], where
        assert found["errors"] and all(e["tied"] for e in found["errors"]), (where, found)
        assert all(h["tied"] for h in found["hints"]), (where, found)
        # One link per field in error, each to a field that can take focus.
        assert len(found["links"]) == found["errorFields"], (where, found)
        for href in found["links"]:
            assert page.locator(href).count() == 1, (where, href)
            assert page.evaluate(
                "id => document.getElementById(id).matches('input, textarea, select')",
                href[1:],
            ), (where, href)
        # Following the first link with Enter puts the keyboard in that field.
        page.keyboard.press("Tab")
        assert focused(page)["tag"] == "a"
        first = found["links"][0]
        page.keyboard.press("Enter")
        page.wait_for_function("id => document.activeElement.id === id", arg=first[1:])
        # The error text is not colour alone: it is words, with a hidden "Fel:" first.
        assert page.locator(".error-message").first.inner_text().strip() != ""
        assert page.locator(".error-message .visually-hidden").first.inner_text() == "Fel:"
        # From that field on, answer the step by keyboard.
        answer_step_with_keyboard(page, tmp_path, from_here=True)
        assert page.locator(".error-summary").count() == 0, page.url


def test_a_file_over_its_limit_is_refused_before_it_is_sent_keeping_the_other_answers(page, axe):
    """The server refuses a request over its limit unread, so it cannot keep the step's
    other answers: the browser says the file is too large before sending anything, in the
    same summary and field message the server would give, and the answers stay."""
    page.goto("/arvika/e/felanmalan/steg/fel")
    page.check("#f-kind-1")
    page.fill("#f-description", "Hål i vägen vid busshållplatsen")
    page.fill("#f-location", "Storgatan 1")
    over = b"\xff\xd8\xff\xe0" + b"0" * (10 * 1024 * 1024)  # a JPEG's start, over 10 MB
    page.set_input_files("#f-photo", {"name": "stor.jpg", "mimeType": "image/jpeg", "buffer": over})
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    before = page.url
    page.click(SUBMIT)
    page.wait_for_selector("#error-summary")

    assert page.url == before and posts == []
    assert focused(page)["id"] == "error-summary"
    assert page.title().startswith("Fel: ")
    summary = page.inner_text("#error-summary")
    assert "Det finns 1 fel att rätta" in summary
    assert "Bild – Filen är för stor. Den får vara högst 10 MB." in summary
    photo = page.locator("#f-photo")
    assert photo.get_attribute("aria-invalid") == "true"
    assert "f-photo-error" in photo.get_attribute("aria-describedby").split()
    assert "Filen är för stor" in page.inner_text("#f-photo-error")
    assert page.input_value("#f-description") == "Hål i vägen vid busshållplatsen"
    assert page.is_checked("#f-kind-1")
    assert axe_violations(axe, page) == []

    # Files within their own limits but over the request's together (here: a request
    # limit made small in the page) are refused too, with the server's other message.
    page.evaluate("document.querySelector('main form').dataset.maxRequestBytes = 70 * 1024")
    small = {"name": "liten.jpg", "mimeType": "image/jpeg", "buffer": over[: 10 * 1024]}
    page.set_input_files("#f-photo", small)
    page.click(SUBMIT)
    assert "tillsammans för stora för att skickas" in page.inner_text("#error-summary")
    assert page.locator(".error-summary").count() == 1 and posts == []
    page.evaluate("document.querySelector('main form').dataset.maxRequestBytes = 25 * 1024 * 1024")

    # The summary's link leads to the field; a file within the limit is sent as usual.
    page.click("#error-summary a")
    assert focused(page)["id"] == "f-photo"
    page.set_input_files(
        "#f-photo", {"name": "ok.jpg", "mimeType": "image/jpeg", "buffer": over[:2048]}
    )
    page.click(SUBMIT)
    page.wait_for_load_state()
    assert posts, "a file within the limit was not sent"


def test_a_conditional_questions_hidden_condition_is_not_read_out(page):
    """With script, a question shows only when it applies, and the words saying when are
    hidden: the input's description must not name them (a hidden element a description
    names is still read out)."""
    page.goto("/arvika/e/varmepump/steg/fastighet")
    page.fill("#f-property_designation", "Exempelby 1:23")
    page.fill("#f-property_address", "Skogsvägen 4")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert page.url.endswith("/steg/agare")
    fields = page.evaluate(
        """() => [...document.querySelectorAll('[data-show-if] input, [data-show-if] fieldset')]
          .map(e => ({id: e.id, describedBy: e.getAttribute('aria-describedby') || ''}))"""
    )
    assert fields, "the step has conditional questions"
    assert not any("-cond" in field["describedBy"] for field in fields), fields
