"""How often submissions are taken: per address (one client hammering) and per member (a
deadline day's peak is welcome; a flood that would starve the other members is not).
The figures are settings, read at each request."""

from flask import current_app, g

from samverkan.extensions import limiter


def _per_address() -> str:
    return current_app.config["SUBMISSIONS_PER_ADDRESS"]


def _per_member() -> str:
    return current_app.config["SUBMISSIONS_PER_MEMBER"]


def _member_key() -> str:
    # The member in the URL (url_value_preprocessor has read it; the limit is checked
    # before the member is looked up).
    return "member:" + str(g.get("tenant_slug") or g.get("tenant", ""))


def limited(view):
    """Both limits on a submission route; only POSTs count."""
    view = limiter.limit(_per_member, key_func=_member_key, methods=["POST"])(view)
    return limiter.limit(_per_address, methods=["POST"])(view)
