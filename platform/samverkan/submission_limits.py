"""How often submissions are taken: per address (one client hammering) and per member (a
deadline day's peak is welcome; a flood that would starve the other members is not); and
how often one address may take register extracts. The figures are settings, read at each
request."""

from flask import current_app, g, request

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


def _extracts_per_address() -> str:
    return current_app.config["EXTRACTS_PER_ADDRESS"]


def extracts_limited(view):
    """Each register extract is written to the append-only audit log: anyone holding a
    status link (or a link prefetcher) must not be able to grow it without bound."""
    return limiter.shared_limit(_extracts_per_address, scope="extracts")(view)  # page and JSON


def _draft_mails_per_address() -> str:
    return current_app.config["DRAFT_MAILS_PER_ADDRESS"]


def _draft_mails_per_recipient() -> str:
    return current_app.config["DRAFT_MAILS_PER_RECIPIENT"]


def _recipient_key() -> str:
    return "draft-mail-to:" + request.form.get("email", "").strip().lower()[:254]


def draft_mails_limited(view):
    """A resume link by e-mail: limited per client address and per recipient, so the form
    cannot be used to flood an inbox. Only POSTs count."""
    view = limiter.limit(
        _draft_mails_per_recipient, key_func=_recipient_key, methods=["POST"], scope="draft-to"
    )(view)
    return limiter.limit(_draft_mails_per_address, methods=["POST"], scope="draft-mails")(view)
