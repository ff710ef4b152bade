"""Who may use a route. Every view declares it; a test walks app.url_map to make sure."""

from collections.abc import Callable

PUBLIC = "public"


def public(view: Callable) -> Callable:
    """Anyone, signed in or not: citizens' pages and the public API."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def access_of(view: Callable) -> str | None:
    return getattr(view, "access", None)
