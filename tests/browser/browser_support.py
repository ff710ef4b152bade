"""What the browser tests share: axe-core's verdict, the reflow check, screenshots, the
keyboard walker and signing in with e-ID at the development provider."""

import tomllib
import weakref
from datetime import date, timedelta
from pathlib import Path

from identity_support import TOLVAN, register_person

from samverkan.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
# What axe-core must find nothing of: WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"wide": 1280, "phone": 375}
# A form's own submit button: not "Spara och fortsätt senare", which every step also has.
SUBMIT = "main form button[type=submit]:not([value=spara])"


def axe_violations(axe, page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now, one line each."""
    results = axe.run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    found = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:5]
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth"
    )


# -- the keyboard -----------------------------------------------------------------------

# A valid answer typed for each kind of text field (by the input's class input--<type>).
TYPED = {
    "personnummer": "20150303-1237",
    "orgnr": "212000-1850",
    "postnummer": "671 31",
    "phone": "070-123 45 67",
    "email": "testperson@example.se",
    "number": "30",
    "text": "Test Testsson",
}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const field = e.closest('.field');
  return {
    tag: e.tagName.toLowerCase(), type: e.type || null, name: e.name || null,
    id: e.id || null, text: (e.innerText || e.value || '').trim(),
    klass: e.className || '', checked: !!e.checked, readOnly: !!e.readOnly,
    inForm: !!e.closest('form[enctype="multipart/form-data"]'),
    required: field ? !/\\(frivilligt\\)/.test(field.querySelector('.label, label, legend')
      ? field.querySelector('.label, label, legend').textContent : '') : false,
  };
}"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def tab_to(page, matches, limit: int = 80) -> dict:
    """Press Tab until the focused element satisfies `matches`; return what it is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if element and matches(element):
            return element
    raise AssertionError(f"Tab never reached the element wanted (last: {focused(page)})")


def future_date() -> date:
    return date.today() + timedelta(days=60)


_DATE_ORDERS = {"%Y%m%d", "%m%d%Y", "%d%m%Y"}
_date_order: list[str] = []


def date_keys(page, when: date) -> str:
    """What to type into Chromium's own date field for `when`: its segments follow the
    browser's locale (Debian's headless build orders them as en-US whatever the page's
    language), so the order is learnt once on a scratch page of the same browser."""
    if not _date_order:
        probe = page.context.new_page()
        try:
            for order in sorted(_DATE_ORDERS):
                probe.set_content('<input type="date" id="d">')
                probe.keyboard.press("Tab")
                probe.keyboard.type(date(2003, 1, 2).strftime(order))
                if probe.input_value("#d") == "2003-01-02":
                    _date_order.append(order)
                    break
        finally:
            probe.close()
        assert _date_order, "no way found to type into Chromium's date field"
    return when.strftime(_date_order[0])


_intercepting_choosers = weakref.WeakSet()


def _open_file_chooser(page):
    """Space on the focused file field opens the chooser; on a heavily loaded machine the
    first press has been seen to open nothing within the default time, so wait longer and
    press once more (Enter, which opens it too) before giving up.

    Playwright asks the browser to hand it file choosers when a page's first listener comes,
    without waiting for the answer (channel_owner.py: fire_and_forget). A key pressed before
    the browser heard it opened Chromium's own chooser, which never answers, and then no
    press opened another (seen once in CI). So the page keeps a listener for its life, and
    one round trip to the page after adding it makes sure the browser has heard."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    if page not in _intercepting_choosers:
        page.on("filechooser", lambda chooser: None)
        page.evaluate("0")
        _intercepting_choosers.add(page)
    for key in ("Space", "Enter"):
        try:
            with page.expect_file_chooser(timeout=20_000) as chooser:
                page.keyboard.press(key)
            return chooser.value
        except PlaywrightTimeoutError:
            continue
    raise AssertionError("the file field's chooser did not open from the keyboard")


def answer_step_with_keyboard(
    page, tmp_path, from_here: bool = False, passed_read_only: list[str] | None = None
) -> list[str]:
    """Go through the form on the page with Tab, answering each field as a person would with
    the keyboard (typing, Space on a choice), then Enter on the submit button. Returns the
    names of the fields answered. `from_here`: start with the field that has focus.
    A read-only field (filled in from the e-ID) is passed over, its name added to
    `passed_read_only` when given."""
    answered = []
    seen_groups = set()
    trail = []
    for turn in range(120):
        if turn or not from_here:
            page.keyboard.press("Tab")
        element = focused(page)
        trail.append(element)
        if element is None or not element["inForm"]:
            continue
        if element["tag"] == "button":
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return answered
        name, kind = element["name"], element["type"]
        if element["readOnly"]:
            if passed_read_only is not None and name not in passed_read_only:
                passed_read_only.append(name)
        elif kind == "radio":
            # Tab lands on a group once; Space chooses the option that has focus (the first).
            if name not in seen_groups:
                seen_groups.add(name)
                if not element["checked"]:
                    page.keyboard.press("Space")
                answered.append(name)
        elif kind == "checkbox":
            # The first of a multichoice, and every consent box.
            if name not in seen_groups and not element["checked"]:
                page.keyboard.press("Space")
                answered.append(name)
            seen_groups.add(name)
        elif kind == "file":
            if element["required"]:
                proof = tmp_path / "intyg.pdf"
                proof.write_bytes(PDF)
                chooser = _open_file_chooser(page)
                chooser.set_files(str(proof))
                answered.append(name)
        elif element["tag"] == "textarea":
            if not page.input_value(f"#{element['id']}"):
                page.keyboard.type("Skrivet med tangentbordet.")
            answered.append(name)
        elif kind == "date":
            page.keyboard.type(date_keys(page, future_date()))
            answered.append(name)
        elif element["tag"] == "input":
            if not page.input_value(f"#{element['id']}"):
                kind_class = next(
                    (c.split("--")[1] for c in element["klass"].split() if c.startswith("input--")),
                    "text",
                )
                page.keyboard.type(TYPED.get(kind_class, TYPED["text"]))
            answered.append(name)
    raise AssertionError(f"Tab never reached the step's submit button; it went: {trail[:30]}")


# -- e-ID ----------------------------------------------------------------------------

E_ID_SUB = "tolvan"
# What Tolvan's e-ID fills in (identity_support.TOLVAN), as a form shows it.
SHOWN_FROM_E_ID = {"personnummer": "19121212-1212", "name": "Tolvan Tolvansson"}
SIGN_IN_AND_START = "Logga in och starta e-tjänsten"


def definition(service: str) -> dict:
    return tomllib.loads((PROJECT_ROOT / "services" / service / "definition.toml").read_text())


def login_required(service: str) -> bool:
    return bool(definition(service).get("login_required"))


def filled_from_e_id(service: str) -> dict[str, dict[str, str]]:
    """{step id: {field name: what the e-ID fills it with}} for the e-service's fields that
    say `prefill`."""
    return {
        step["id"]: {f["name"]: f["prefill"] for f in step["fields"] if f.get("prefill")}
        for step in definition(service)["steps"]
    }


def step_id(page) -> str:
    return page.url.split("?")[0].rsplit("/steg/", 1)[1]


READ_ONLY_FIELDS = """() => Object.fromEntries(
  [...document.querySelectorAll('main form input, main form textarea')]
    .filter(e => e.readOnly && e.type !== 'hidden').map(e => [e.name, e.value]))"""
EDITABLE_FIELDS = """() => [...document.querySelectorAll(
    'main form input, main form textarea, main form select')]
  .filter(e => !e.readOnly && e.type !== 'hidden' && !e.closest('[hidden]')).map(e => e.name)"""


def read_only_fields(page) -> dict[str, str]:
    """{name: value} of the read-only fields of the page's form."""
    return page.evaluate(READ_ONLY_FIELDS)


def editable_fields(page) -> list[str]:
    return page.evaluate(EDITABLE_FIELDS)


def assert_filled_from_e_id(page, service: str) -> dict[str, str]:
    """The step shows what Tolvan's e-ID says in each field the definition prefills, and
    those fields, and no others, are read-only. Returns them."""
    expected = filled_from_e_id(service).get(step_id(page), {})
    shown = read_only_fields(page)
    assert shown == {name: SHOWN_FROM_E_ID[kind] for name, kind in expected.items()}, (
        page.url,
        shown,
    )
    return shown


def sign_in_at_provider(page, sub: str = E_ID_SUB) -> None:
    """On the development provider's form (not our page: filled in, not walked by Tab),
    sign in as `sub` and follow its redirect back to us."""
    assert "/oauth2/authorize" in page.url, page.url
    page.fill("input[name=sub]", sub)
    with page.expect_navigation():
        page.press("input[name=sub]", "Enter")
    assert "/oauth2/" not in page.url, page.locator("body").inner_text()[:500]


def sign_in_from_the_start_page(page, provider: str, sub: str = E_ID_SUB, claims=TOLVAN):
    """From an e-service's start page, by keyboard: "Logga in och starta e-tjänsten", then
    the provider's form as `sub` (its claims registered first), then back at the first step."""
    register_person(provider, sub, claims)
    tab_to(page, lambda e: e["tag"] == "a" and e["text"] == SIGN_IN_AND_START)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(f"{provider}/oauth2/authorize"), page.url
    sign_in_at_provider(page, sub)
    assert "/steg/" in page.url, page.url


# -- one page, looked at as a reviewer would ------------------------------------------


WIDER_THAN_THE_PAGE = """() => {
  const edge = document.documentElement.clientWidth + 1;
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > edge && !e.closest('.table-scroll'))
    .slice(0, 8)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (typeof e.className === 'string' && e.className ? '.' + e.className : ''));
}"""


def audit(page, axe, screenshots, name: str) -> list[str]:
    """axe-core at 1280 px, pictures at 1280 and 375 px, and no sideways scrolling at 320 px
    (WCAG 1.4.10: 320 CSS px is 1280 px at 400 % zoom). Returns what is wrong."""
    problems = [f"{name}: {v}" for v in axe_violations(axe, page)]
    page.screenshot(path=screenshots / f"{name}-1280.png", full_page=True)
    page.set_viewport_size({"width": WIDTHS["phone"], "height": 800})
    page.screenshot(path=screenshots / f"{name}-375.png", full_page=True)
    page.set_viewport_size({"width": 320, "height": 640})
    if scrolls_sideways(page):
        wide = page.evaluate(WIDER_THAN_THE_PAGE)
        problems.append(f"{name}: scrolls sideways at 320 px wide: {wide}")
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
    return problems
