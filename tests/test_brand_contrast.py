"""Each member's colours, as the style sheet uses them, are readable (WCAG 2.1 AA): computed
from tenants/*.toml and samverkan.css themselves, so a new member file or a new use of a
member colour in the CSS is checked too."""

import re
import tomllib

import pytest

from samverkan.colours import PANEL, contrast_ratio, relative_luminance
from samverkan.settings import PROJECT_ROOT

CSS = (PROJECT_ROOT / "platform/samverkan/static/samverkan.css").read_text()
THEME = (PROJECT_ROOT / "platform/samverkan/citizen/templates/citizen/theme.css").read_text()
MEMBERS = sorted((PROJECT_ROOT / "tenants").glob("*.toml"))
TEXT = 4.5  # WCAG 1.4.3, normal text
NON_TEXT = 3.0  # WCAG 1.4.11, a focus indicator


def custom_property(name: str) -> str:
    return re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", CSS).group(1)


def declarations_using(variable: str) -> list[tuple[str, str, str]]:
    """(selector, property, the rule's whole body) for each declaration using var(--x)."""
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS):
        for prop, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body):
            if f"var(--{variable})" in value:
                found.append((selector.strip(), prop, body))
    return found


def test_the_wcag_formula_matches_known_values():
    assert relative_luminance("#ffffff") == pytest.approx(1.0)
    assert relative_luminance("#000000") == pytest.approx(0.0)
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ffffff", "#767676") == contrast_ratio("#767676", "#ffffff")


def test_the_member_colours_are_used_only_in_ways_this_test_checks():
    """The theme sets --brand and --accent from the member's two colours. --brand is text on
    the page or the panels, or the header's background under white text; --accent only ever
    draws a border. Any other use must be added to the checks below first."""
    assert "--brand: {{ tenant.primary_colour }}" in THEME
    assert "--accent: {{ tenant.accent_colour }}" in THEME
    for selector, prop, body in declarations_using("brand"):
        if prop == "color" or prop.startswith("border"):
            continue
        assert prop == "background", (selector, prop)
        if selector == ".logo-preview":  # behind the member's own logo, in administration
            continue
        assert selector == ".site-header" and re.search(r"(^|;)\s*color:\s*#fff\b", body)
    for selector, prop, _ in declarations_using("accent"):
        assert prop.startswith("border"), (selector, prop)


@pytest.mark.parametrize("path", MEMBERS, ids=[p.stem for p in MEMBERS])
def test_each_members_colours_are_readable_where_the_pages_use_them(path):
    branding = tomllib.loads(path.read_text())["branding"]
    brand = branding["primary_colour"]
    page, panel, focus = "#ffffff", custom_property("panel"), custom_property("focus")
    checks = {
        "the header's white text on the colour": (contrast_ratio("#ffffff", brand), TEXT),
        "links in the colour on the page": (contrast_ratio(brand, page), TEXT),
        "links in the colour on the grey panels": (contrast_ratio(brand, panel), TEXT),
        "the focus ring on the header": (contrast_ratio(focus, brand), NON_TEXT),
    }
    failing = {
        what: f"{ratio:.2f}:1 < {need}:1" for what, (ratio, need) in checks.items() if ratio < need
    }
    assert failing == {}, f"{path.name}: {failing}"


def test_any_colour_the_loader_and_profile_accept_keeps_the_focus_ring_visible():
    """The sync and the profile page refuse a primary colour below 4.5:1 against the panel
    colour (tenancy/loader.py, admin/schemas.py). The lightest colour that passes still
    leaves the focus ring 3:1 against the header, so no separate check is needed there."""
    assert custom_property("panel") == PANEL
    lightest = (relative_luminance(PANEL) + 0.05) / TEXT - 0.05
    focus = relative_luminance(custom_property("focus"))
    assert (focus + 0.05) / (lightest + 0.05) >= NON_TEXT
