"""A short memory of the busiest public pages, per worker process (memo.py).

On a deadline day thousands of citizens open the same member's home page and the same
first step of the same form. Those pages are the same for everyone (the first step, for a
visitor with no draft, differs only by its CSRF token), so each worker keeps the rendered
HTML for a short while instead of querying and rendering it again for every visitor.

What may change a page is in its key where the request already knows it (the member's
profile and the e-service's settings carry their update times, the definition its id);
what it cannot know cheaply (which e-services are on, on the home page) is forgotten when
a change is committed anywhere through the app (memo.py), else after the time to live. A
page whose key names everything it is built from (`complete_key`, a form's first step)
is kept longer (KEYED_CACHE_SECONDS): when the worker's memory of the member and
e-service runs out, it reads them again and, if nothing changed, finds the same key and
need not render again. The page's language is part of every key: an English page is
never served to a Swedish visitor.
"""

from collections.abc import Callable, Hashable

from flask import session

from samverkan.i18n import current_language
from samverkan.memo import Memo
from samverkan.signing import csrf_token

CSRF_PLACEHOLDER = "\x00csrf\x00"  # cannot occur in rendered HTML
_pages = Memo("PUBLIC_PAGE_CACHE_SECONDS")
_fully_keyed_pages = Memo("KEYED_CACHE_SECONDS")


def serve(
    key: Hashable,
    render: Callable[[], str],
    *,
    with_csrf: bool = False,
    complete_key: bool = False,
) -> str:
    """The page for key, rendered by render() at most once per time to live."""
    # A message for this visitor only, or a page that names who is signed in with e-ID
    # (templating._signed_in_as): neither shared nor lost.
    if session.get("_flashes") or "citizen" in session:
        return render()
    key = (key, current_language())
    pages = _fully_keyed_pages if complete_key else _pages
    body = pages.get(key)
    if body is None:
        body = render()
        if with_csrf:  # the token is this visitor's: keep a placeholder in its place
            body = body.replace(csrf_token(), CSRF_PLACEHOLDER)
        pages.put(key, body)
    return body.replace(CSRF_PLACEHOLDER, csrf_token()) if with_csrf else body
