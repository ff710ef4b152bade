"""WCAG 2.1 contrast, so a member's colours can be checked before anyone sees them."""

import re

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_NORMAL_TEXT = 4.5
PANEL = "#f3f2f1"  # the light background of footers and panels (samverkan.css --panel)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
