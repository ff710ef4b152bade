"""Staff pages: the frame (base.html and staff_layout.html) made once per worker for each
member, language, role and section, and this request's few values written into it.

The frame is the same for every request with the same key, but for who is signed in, the
CSRF token and the language switch's link back to this page: it is rendered once with a
placeholder in their place (and in place of the page's title and content), and each
request fills the placeholders in, escaped as autoescape would. Rendering it was about
half of making the inbox.

A staff page extends `staff_layout`, a name: "staff_layout.html" by default (a global),
so render_template still makes the whole page; render_staff_page has it extend
"staff_holes.html" instead, which writes only the page's title and content. A page with
a flashed message is made whole (the message is this visitor's, and is read once), and
so is every page when KEYED_CACHE_SECONDS is 0.

The key names everything the frame shows (tests/test_staff_frame.py makes each staff page
both ways and compares them), so it is kept as long as what a key fully names
(KEYED_CACHE_SECONDS): a new profile makes a new key. What the two templates read from
the request belongs in `_frame_key`.
"""

import re

from flask import current_app, g, render_template, request, session
from flask_login import current_user
from markupsafe import Markup

from samverkan.i18n import current_language, switch_url
from samverkan.memo import Memo
from samverkan.signing import csrf_token
from samverkan.templating import html_text

HOLES_LAYOUT = "staff_holes.html"
# Cannot occur in rendered HTML: Jinja escapes nothing into it, and no text has NUL.
_HOLE = Markup("\x00hole:{}\x00")
_HOLES = re.compile("\x00hole:([a-z_:]+)\x00")
_SEPARATOR = _HOLE.format("separator")
_frames = Memo("KEYED_CACHE_SECONDS")


class _NamePlaceholder:
    """current_user as the frame reads it: only the name, and that is a placeholder."""

    name = _HOLE.format("user_name")


def _switch_placeholder(lang: str) -> Markup:
    return _HOLE.format(f"switch:{lang}")


def _csrf_placeholder() -> Markup:
    return _HOLE.format("csrf")


def render_staff_page(template_name: str, **context) -> str:
    """What render_template(template_name, **context) makes, for a page that extends
    `staff_layout`."""
    if session.get("_flashes") or not current_app.config["KEYED_CACHE_SECONDS"]:
        return render_template(template_name, **context)
    key = _frame_key()
    frame = _frames.get(key)
    if frame is None:
        frame = _split(_render_frame())
        _frames.put(key, frame)
    page = render_template(
        template_name, staff_layout=HOLES_LAYOUT, staff_frame_separator=_SEPARATOR, **context
    )
    title, _, content = page.partition(_SEPARATOR)
    return _fill(frame, title, content)


def _frame_key() -> tuple:
    """What base.html and staff_layout.html show that is not the same for every request."""
    tenant = g.tenant
    role = g.get("membership")
    current = request._get_current_object()
    return (
        current_language(),
        tenant.id,
        tenant.slug,
        tenant.name,
        tenant.website,
        tenant.logo_storage_name,
        role.role if role is not None else None,
        current.blueprint,
        current.endpoint,
        current.script_root,
        current_app.jinja_env.globals["citizen_sign_in"],
        current_app.config["PLATFORM_NAME"],
        current_app.config["REGION_NAME"],
    )


def _render_frame() -> str:
    return render_template(
        "staff_frame.html",
        title=_HOLE.format("title"),
        content=_HOLE.format("content"),
        current_user=_NamePlaceholder(),
        csrf_token=_csrf_placeholder,
        language_switch_url=_switch_placeholder,
        get_flashed_messages=lambda: (),
    )


def _split(frame: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The frame's text before the first placeholder, then each placeholder's name with
    the text after it."""
    pieces = _HOLES.split(frame)
    return pieces[0], tuple(zip(pieces[1::2], pieces[2::2], strict=True))


def _fill(frame: tuple, title: str, content: str) -> str:
    start, holes = frame
    values = {
        "title": title,
        "content": content,
        "user_name": html_text(current_user.name),
        "csrf": html_text(csrf_token()),
    }
    written = [start]
    for name, text in holes:
        value = values.get(name)
        if value is None:  # a language switch: the link back to this page
            value = html_text(switch_url(name.removeprefix("switch:")))
        written.append(value)
        written.append(text)
    return "".join(written)
