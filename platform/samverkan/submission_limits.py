"""How often submissions are taken: per address (one client hammering) and per member (a
deadline day's peak is welcome; a flood that would starve the other members is not); and
how often one address may take register extracts. The figures are settings, read at each
request.

The two submission limits are counted on every web and API submission, the platform's
busiest write, and web and API submissions count together (one client, one member,
whichever way they send). They are counted with `limits`, the library Flask-Limiter
counts with, on Flask-Limiter's own storage and strategy: RATELIMIT_STORAGE_URI,
RATELIMIT_STRATEGY, RATELIMIT_ENABLED, RATELIMIT_KEY_PREFIX, RATELIMIT_HEADERS_ENABLED and
limiter.reset() hold for them as for every other limit. Not through Flask-Limiter's generic
pass for a decorated view (resolving, filtering and evaluating the view's limits, its
request context and after-request hook): that pass was about 9 % of a web submission's
instructions (tests/bench/RESULTS.md). Flask-Limiter's in-memory fallback holds here too
(a shared storage that fails is counted around in the worker's memory, extensions.py);
its other settings for that pass (custom header names, RATELIMIT_SWALLOW_ERRORS,
callbacks on a breach) do not apply. An API answer carries Flask-Limiter's X-RateLimit-*
headers; a web form's (limited_form) only when it is refused, as no browser reads them.
Only a refused answer (429, errors.py's page or JSON) carries Retry-After.
"""

import functools
import logging
import math
import time

from flask import after_this_request, current_app, g, request
from limits.errors import StorageError
from werkzeug.exceptions import TooManyRequests

from samverkan.extensions import client_address_key, limiter, typed_key
from samverkan.settings import rate_limits

logger = logging.getLogger(__name__)


def _member_key() -> str:
    # The member in the URL: read by url_value_preprocessor, and kept by resolve.py once
    # the member is looked up (a limit checked before then finds tenant_slug).
    state = g._get_current_object()  # once: each use of the proxy finds it again
    return "member:" + str(state.get("member_slug") or state.get("tenant_slug") or "")


# (setting, scope, key): the address first, so a client that hammers is refused before
# its submissions use up the member's allowance.
SUBMISSION_LIMITS = (
    ("SUBMISSIONS_PER_ADDRESS", "submissions-per-address", client_address_key),
    ("SUBMISSIONS_PER_MEMBER", "submissions-per-member", _member_key),
)


# settings.py refuses to start with a setting that is no limit; this names one changed
# afterwards the same way.
_parsed = functools.lru_cache(maxsize=32)(rate_limits)


def limited(view):
    """Both limits on a submission route of the API; only POSTs count. Every answer says
    how many submissions are left (X-RateLimit-*), for a client that paces itself."""
    return _counted(view, tell_allowance=True)


def limited_form(view):
    """As limited, for a web form's submission: only a refusal carries the X-RateLimit-*
    headers. A browser reads none of them, and reading the window back for them was about
    3 % of a web submission's instructions (tests/bench/RESULTS.md)."""
    return _counted(view, tell_allowance=False)


def _counted(view, tell_allowance: bool):
    @functools.wraps(view)
    def counted(*args, **kwargs):
        if limiter.enabled and request.method == "POST":
            count_submission(tell_allowance)
        return view(*args, **kwargs)

    return counted


def count_submission(tell_allowance: bool = True) -> None:
    """Count this submission against every limit of both settings, the address's first;
    429 when one is used up, which stops the count there (Flask-Limiter stops at the first
    too). A shared storage that fails mid-count is counted around in the worker's memory
    from then on (the fallback counts the whole submission again). `tell_allowance`: the
    answer says how many are left when the submission is let through too."""
    _on_storage(functools.partial(_count, tell_allowance=tell_allowance))


def _on_storage(count):
    """count(config, strategy) on the limiter's storage; a shared storage that fails is
    counted around in the worker's memory from then on (and the count made again there)."""
    limiter.retry_storage()
    try:
        return count(current_app.config, limiter.limiter)
    except StorageError as error:
        if not limiter.fall_back(error):
            raise
        return count(current_app.config, limiter.limiter)


def _count(config, strategy, tell_allowance: bool = True) -> None:
    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    shown = None  # the limit the headers describe: the one used up, else the address's first
    for setting, scope, key_of in SUBMISSION_LIMITS:
        identifiers = (prefix, scope, key_of()) if prefix else (scope, key_of())
        for limit in _parsed(setting, config[setting]):
            if not strategy.hit(limit, *identifiers):
                logger.info("submission limit %s (%s) used up", limit, scope)
                # For Retry-After, and for the 429 page to say how long (errors.py).
                window = strategy.get_window_stats(limit, *identifiers)
                g.retry_after = max(1, math.ceil(window.reset_time - time.time()))
                _headers(config, strategy, limit, identifiers, refused=True)
                raise TooManyRequests()
            shown = shown or (limit, identifiers)
    if tell_allowance:
        _headers(config, strategy, *shown, refused=False)


def _headers(config, strategy, limit, identifiers: tuple, refused: bool) -> None:
    if not config.get("RATELIMIT_HEADERS_ENABLED"):
        return
    window = strategy.get_window_stats(limit, *identifiers)
    headers = {
        "X-RateLimit-Limit": str(limit.amount),
        "X-RateLimit-Remaining": str(max(0, window.remaining)),
        "X-RateLimit-Reset": str(int(window.reset_time + 1)),  # as Flask-Limiter's
    }
    if refused:
        headers["Retry-After"] = str(g.retry_after)

    @after_this_request
    def _tell(response):
        response.headers.update(headers)
        return response


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
    return typed_key("draft-mail-to", request.form.get("email", "").strip().lower()[:254])


def draft_mails_limited(view):
    """A resume link by e-mail: limited per client address and per recipient, so the form
    cannot be used to flood an inbox. Only POSTs count."""
    view = limiter.limit(
        _draft_mails_per_recipient, key_func=_recipient_key, methods=["POST"], scope="draft-to"
    )(view)
    return limiter.limit(_draft_mails_per_address, methods=["POST"], scope="draft-mails")(view)


def receipt_may_go_to(address: str) -> bool:
    """Count a case's e-mailed receipt against its recipient (RECEIPTS_PER_RECIPIENT):
    False once the address has had its share. Anyone can type anyone's address into a
    form, so without this the platform's official receipts could flood an inbox; the case
    itself is still registered (and its receipt page shown), only no mail goes."""
    if not limiter.enabled:
        return True
    config = current_app.config
    key = typed_key("receipt-to", address.strip().lower()[:254])
    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    identifiers = (prefix, "receipts-to", key) if prefix else ("receipts-to", key)

    def hit_all(config, strategy) -> bool:
        limits = _parsed("RECEIPTS_PER_RECIPIENT", config["RECEIPTS_PER_RECIPIENT"])
        return all(strategy.hit(limit, *identifiers) for limit in limits)

    return _on_storage(hit_all)
