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

The busiest page, the inbox, keeps its own part too (`kept_by`): made once per frame and
what the caller names, with its few values of the request as placeholders (`holes`), so
a request writes the whole page by joining strings, without Jinja (rendering the page's
part was a fifth of the inbox's CPU in a worker under load). Repeated markup inside such a
value, the inbox's rows, is written from a `pattern`: a template rendered once with
placeholders, each row's escaped values put into them.
"""

import re
from collections.abc import Callable, Iterable

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
_pages = Memo("KEYED_CACHE_SECONDS")
_patterns = Memo("KEYED_CACHE_SECONDS")


class _NamePlaceholder:
    """current_user as the frame reads it: only the name, and that is a placeholder."""

    name = _HOLE.format("user_name")


def _switch_placeholder(lang: str) -> Markup:
    return _HOLE.format(f"switch:{lang}")


def _csrf_placeholder() -> Markup:
    return _HOLE.format("csrf")


def render_staff_page(
    template_name: str,
    *,
    holes: dict[str, str] | None = None,
    kept_by: tuple | None = None,
    **context,
) -> str:
    """What render_template(template_name, **holes, **context) makes, for a page that
    extends `staff_layout`.

    With `kept_by` the page's own part is kept as well, per frame, `kept_by` and which
    holes are empty: `kept_by` must name everything the part shows but `holes`, the CSRF
    token and who is signed in. The part is made once with a placeholder for each hole
    that has a value (an empty one is given as it is, so `{% if hole %}` holds), and
    each request's values are written into it. A hole's value is HTML, escaped already
    (Markup, or html_text's)."""
    holes = holes or {}
    if session.get("_flashes") or not current_app.config["KEYED_CACHE_SECONDS"]:
        return render_template(template_name, **_as_markup(holes), **context)
    frame_key = _frame_key()
    if kept_by is None:
        frame = _frames.get(frame_key)
        if frame is None:
            frame = _split(_render_frame())
            _frames.put(frame_key, frame)
        title, content = _render_part(template_name, **_as_markup(holes), **context)
        return _fill(frame, {"title": title, "content": content})
    filled = {name: value for name, value in holes.items() if value}
    key = (frame_key, template_name, kept_by, tuple(filled))
    page = _pages.get(key)
    if page is None:
        placeholders = {name: _HOLE.format(f"page:{name}") for name in filled}
        title, content = _render_part(
            template_name,
            csrf_token=_csrf_placeholder,
            current_user=_NamePlaceholder(),
            **{**_as_markup(holes), **placeholders},
            **context,
        )
        page = _split(_render_frame().replace(_TITLE, title).replace(_CONTENT, content))
        _pages.put(key, page)
    return _fill(page, {f"page:{name}": value for name, value in filled.items()})


def pattern(template_name: str, names: Iterable[str]) -> Callable[..., str]:
    """A function writing `template_name` for values given by name, as render_template
    would with them but escaped already (html_text): the template made once (per
    language) with placeholders, then filled in. For markup repeated many times on a page
    (a row), which may show nothing but the values (no request, no texts of the user)."""
    names = tuple(names)
    key = (template_name, names, current_language())
    pieces = _patterns.get(key)
    if pieces is None:
        pieces = _split(
            render_template(template_name, **{name: _HOLE.format(name) for name in names})
        )
        _patterns.put(key, pieces)
    start, holes = pieces

    def write(**values: str) -> str:
        written = [start]
        for name, text in holes:
            written.append(values[name])
            written.append(text)
        return "".join(written)

    return write


def _as_markup(holes: dict[str, str]) -> dict[str, Markup]:
    # The holes' contract: HTML as it is to be written, which Markup says to Jinja.
    return {name: Markup(value) for name, value in holes.items()}  # noqa: S704


def _render_part(template_name: str, **context) -> tuple[str, str]:
    """The page's own title and content (staff_holes.html)."""
    page = render_template(
        template_name, staff_layout=HOLES_LAYOUT, staff_frame_separator=_SEPARATOR, **context
    )
    title, _, content = page.partition(_SEPARATOR)
    return title, content


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


_TITLE, _CONTENT = _HOLE.format("title"), _HOLE.format("content")


def _render_frame() -> str:
    return render_template(
        "staff_frame.html",
        title=_TITLE,
        content=_CONTENT,
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


def _fill(frame: tuple, values: dict[str, str]) -> str:
    """The frame with this request's values: `values` by name, then who is signed in, the
    CSRF token and the language switch's links, each made only if the frame asks."""
    start, holes = frame
    written = [start]
    for name, text in holes:
        value = values.get(name)
        if value is None:
            value = html_text(_request_value(name))
        written.append(value)
        written.append(text)
    return "".join(written)


def _request_value(name: str) -> str:
    if name == "user_name":
        return current_user.name
    if name == "csrf":
        return csrf_token()
    if name.startswith("switch:"):
        return switch_url(name.removeprefix("switch:"))  # the link back to this page
    raise KeyError(f"no value for the placeholder {name!r}")
