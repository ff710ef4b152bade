"""Building a page's links, remembered per worker.

A staff page makes a dozen links and a list one per row: each url_for injects the
member's slug and has werkzeug build the path again, 15–20 µs on a slow core. The path
depends only on what the key holds: the endpoint, its values (with their types: 1 and
True hash alike but are written differently), the member whose slug is filled in, and
the request's script root and host. Only relative links inside a request are kept; an
external one, a look-up whose values cannot be a key, and a link that may carry a private
token (a receipt's or status page's own, or one back to such a page: `next`) are built as
usual: such links are one of a kind, and private tokens are not to be kept. A link whose
one private value is a token in its path (a receipt's, a status page's) is kept with a
stand-in for the token, which each call puts in (link_with_token).
"""

import re
from collections import OrderedDict
from collections.abc import Callable

from flask import Flask
from flask.globals import _cv_app, _cv_request

from samverkan.routing import TokenConverter

MEMORY_SIZE = 4096  # links, the least recently used forgotten first
_PRIVATE = frozenset({"token", "next"})  # values that are, or may hold, a private token
# A token as the routes take it: werkzeug writes its characters as they are.
PLAIN_TOKEN = re.compile(TokenConverter.regex)
# Kept in a token's place: capitals, so never in a slug or a route's own words.
TOKEN_STAND_IN = "ZSTANDINZ0STANDINZ0Z"  # noqa: S105 - a stand-in, no secret


class LinkMemory:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.links: OrderedDict = OrderedDict()
        self._safe: bool | None = None

    def safe(self) -> bool:
        """True while the only URL default is the member's slug (resolve.py): a link then
        depends on nothing outside the key. Another default added later turns this off
        instead of serving stale links."""
        if self._safe is None:
            from samverkan.tenancy.resolve import _add_tenant_slug

            functions = self.app.url_default_functions
            self._safe = list(functions) == [None] and functions[None] == [_add_tenant_slug]
        return self._safe

    def key(self, endpoint: str, values: dict, private: frozenset = _PRIVATE):
        """The key of a relative link in this request, or None when it cannot be kept."""
        request_context = _cv_request.get(None)
        if request_context is None or not self.safe() or not private.isdisjoint(values):
            return None
        adapter = request_context.url_adapter
        if adapter is None:
            return None
        if endpoint[:1] == ".":  # relative to the blueprint: the request's says which
            endpoint = (request_context.request.blueprint, endpoint)
        # The member's slug as resolve.py read it from the path, not its row: after a
        # failed statement the row is expired, and reading it would ask the database
        # again while the 503 page is made (its links come through here too).
        member_slug = _cv_app.get().g.get("member_slug")  # not through the proxy
        try:
            parts = tuple((name, type(value), value) for name, value in values.items())
            key = (
                endpoint,
                parts,
                member_slug,
                adapter.script_name,
                adapter.server_name,
                adapter.subdomain,
            )
            hash(key)
        except TypeError:  # a list of values, say
            return None
        return key

    def get(self, key) -> str | None:
        link = self.links.get(key)
        if link is not None:
            self.links.move_to_end(key)
        return link

    def remember(self, key, link: str) -> str:
        self.links[key] = link
        if len(self.links) > MEMORY_SIZE:
            self.links.popitem(last=False)
        return link

    def link_with_token(self, endpoint: str, values: dict, build: Callable) -> str | None:
        """A relative link whose one private value is a plain `token`, from the link kept
        with a stand-in in the token's place; None when it cannot be made so (built as
        usual then). The token itself is never kept. A submission's redirect to its
        receipt was ~3 % of the request in werkzeug."""
        token = values["token"]
        if not isinstance(token, str) or not PLAIN_TOKEN.fullmatch(token):
            return None
        shaped = {**values, "token": TOKEN_STAND_IN}
        key = self.key(endpoint, shaped, _PRIVATE - {"token"})
        if key is None:
            return None
        link = self.get(key)
        if link is None:
            link = self.remember(key, build(endpoint, **shaped))
        if link.count(TOKEN_STAND_IN) != 1:
            return None
        return link.replace(TOKEN_STAND_IN, token)
