"""Signing the session cookie and CSRF tokens, with the signers kept instead of rebuilt.

Flask builds a new session serializer twice a request (to open the cookie and to write it)
and Flask-WTF one more for each CSRF token; building one runs a test serialisation, and
each signature first derives its key from the secret again. Every first visitor to a form
gets a new session and token, so on a deadline day that was a tenth of the page's time
(tests/bench/RESULTS.md). Here each serializer is built once per secret key, and each
derived key kept per key and salt: the cookies and tokens are byte for byte what Flask and
Flask-WTF make (but for a small cookie, left uncompressed: dump_payload), read by both as
theirs, and check_csrf_token checks a token as Flask-WTF's validate_csrf does, with
its messages (tests/test_signing.py compares both with Flask's and Flask-WTF's own).
"""

import functools
import hmac
import secrets
import time
import zlib

from flask import Flask, current_app, g, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import ValidationError
from itsdangerous import (
    BadData,
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer
from itsdangerous.signer import HMACAlgorithm

CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's


_derived_keys: dict[tuple, bytes] = {}


class _KeptKeySigner(TimestampSigner):
    """A signer whose derived key is computed once per secret, salt and method."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else secret_key
        kept = (secret, self.salt, self.key_derivation, self.digest_method)
        derived = _derived_keys.get(kept)
        if derived is None:
            if len(_derived_keys) >= 64:  # tests make many apps, each with its own key
                _derived_keys.clear()
            derived = _derived_keys[kept] = super().derive_key(secret_key)
        return derived


class _OneCallHMAC(HMACAlgorithm):
    """The same signature in one call to OpenSSL (hmac.digest) instead of an hmac object
    built in Python for each one."""

    def __init__(self, digest_method=None) -> None:
        super().__init__(digest_method)
        self.digest_name = self.digest_method().name  # Flask's lazy sha1 and hashlib's alike

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, self.digest_name)


# Below this many bytes of JSON a payload is not offered to zlib (see dump_payload).
_WORTH_COMPRESSING = 1024


class _KeptSignerSerializer(URLSafeTimedSerializer):
    """itsdangerous builds a new signer for every dumps and loads; its signers keep no
    state, so here each salt's is built once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict = {}

    def dump_payload(self, obj) -> bytes:
        """itsdangerous's, but a payload under _WORTH_COMPRESSING bytes is written as it
        is: itsdangerous compresses every one and keeps the shorter, and setting up zlib's
        state costs 15-60 µs (its buffers are allocated and cleared each time), a few per
        cent of a web submission, to save at most a few hundred bytes of a cookie far
        below the browsers' 4 KB. Either form is read by itsdangerous's load_payload."""
        json = Serializer.dump_payload(self, obj)
        if len(json) >= _WORTH_COMPRESSING:
            compressed = zlib.compress(json)
            if len(compressed) < len(json) - 1:  # as itsdangerous decides
                return b"." + base64_encode(compressed)
        return base64_encode(json)

    def make_signer(self, salt=None) -> TimestampSigner:
        salt = self.salt if salt is None else salt
        signer = self._signers.get(salt)
        if signer is None:
            signer = self._signers[salt] = super().make_signer(salt)
        return signer


@functools.lru_cache(maxsize=16)
def _serializer(keys: tuple, salt: str, serializer, signer_kwargs: tuple) -> URLSafeTimedSerializer:
    options = dict(signer_kwargs)
    return _KeptSignerSerializer(
        list(keys),
        salt=salt,
        serializer=serializer,
        signer=_KeptKeySigner,
        signer_kwargs={**options, "algorithm": _OneCallHMAC(options.get("digest_method"))},
    )


# Plain JSON values Flask's session serializer passes through untagged. Exact types: a
# subclass (Markup is a str) goes through every tag as before.
_PLAIN = frozenset({str, int, float, bool, type(None)})


class _PlainFirstSerializer(TaggedJSONSerializer):
    """Flask's session serializer, byte for byte, but a plain string, number, list or dict
    is recognised as plain at once: Flask's asks each of its eight tags in turn about
    every value in the session, a third of the Python calls of writing the cookie. A tag
    registered later that claims plain values too would not be asked about them."""

    def tag(self, value):
        kind = value.__class__
        if kind in _PLAIN:
            return value
        if kind is dict and not (len(value) == 1 and next(iter(value)) in self.tags):
            return {key: self.tag(item) for key, item in value.items()}  # as PassDict
        if kind is list:
            return [self.tag(item) for item in value]  # as PassList
        return super().tag(value)


# Cookies opened lately, by serializer and cookie: when it was signed and what it holds
# (this and the signed tokens below keep at most _KEPT_MAX each).
_opened: dict[tuple, tuple[int, dict]] = {}
_KEPT_MAX = 1024


def _copied(value):
    """A session's value as loaded, copied deep enough that changing one session's lists
    or dicts leaves the kept one alone (everything else the serializer makes is
    immutable: strings, numbers, Markup, bytes, UUIDs, datetimes)."""
    kind = value.__class__
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind is tuple:
        return tuple(_copied(item) for item in value)
    return value


class KeptSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its serializer built once per set of keys, and a
    cookie opened before opened from the worker's memory (a signed-in case worker sends
    the same cookie with every page until the session changes)."""

    serializer = _PlainFirstSerializer()

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        """As Flask's: a cookie that does not verify, or is older than the session's
        lifetime, opens an empty session. A cookie verified before is the same bytes
        under the same keys, so it verifies again; only its age is checked again, as
        itsdangerous checks it (whole seconds)."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (serializer, cookie)
        kept = _opened.get(key)
        if kept is None:
            try:
                data, signed = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            kept = (int(signed.timestamp()), data)
            if len(_opened) >= _KEPT_MAX:
                _opened.clear()
            _opened[key] = kept
        else:
            age = int(time.time()) - kept[0]
            if age > max_age or age < 0:
                return self.session_class()
        return self.session_class(_copied(kept[1]))

    def save_session(self, app: Flask, session, response) -> None:
        """Flask's, step for step, but Vary: Cookie is added without parsing the Vary
        header into a set and writing it back, twice for every new cookie (about 2 % of
        a form page in a worker): a response that has no Vary header gets it, one that
        names Cookie already is left, any other goes Flask's way."""
        name = self.get_cookie_name(app)
        cookie = {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }
        if session.accessed:
            _vary_on_cookie(response)
        if not session:
            if session.modified:
                response.delete_cookie(name, **cookie)
                _vary_on_cookie(response)
            return
        if not self.should_set_cookie(app, session):
            return
        expires = self.get_expiration_time(app, session)
        value = self.get_signing_serializer(app).dumps(dict(session))
        response.set_cookie(name, value, expires=expires, **cookie)
        _vary_on_cookie(response)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        # As Flask: fallbacks first, the current key last (itsdangerous signs with it).
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        signer_kwargs = (
            ("key_derivation", self.key_derivation),
            ("digest_method", self.digest_method),
        )
        return _serializer(keys, self.salt, self.serializer, signer_kwargs)


def _vary_on_cookie(response) -> None:
    """response.vary.add("Cookie"), as werkzeug does it, reading the first Vary header."""
    headers = response.headers
    present = headers.getlist("Vary")  # get() of an absent header raises inside werkzeug
    if not present:
        headers["Vary"] = "Cookie"
    elif "cookie" not in (item.strip().lower() for item in present[0].split(",")):
        response.vary.add("Cookie")


def csrf_token() -> str:
    """flask_wtf.csrf.generate_csrf, with a kept serializer: this request's token (the same
    one for every call), its raw value in the session as Flask-WTF keeps it."""
    # Flask's proxies each find the context again (about a microsecond a use): once here.
    app, state = current_app._get_current_object(), g._get_current_object()
    field = app.config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    token = state.get(field)
    if token is None:
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        if not secret:
            raise RuntimeError("A secret key is required to use CSRF.")
        visitor = session._get_current_object()
        if field not in visitor:
            # Flask-WTF's is a SHA-1 of 64 random bytes: 40 hex digits, as these are.
            visitor[field] = secrets.token_hex(20)
        serializer = _serializer((secret,), CSRF_SALT, None, ())
        token = _signed_token(serializer, visitor[field], app.config.get("WTF_CSRF_TIME_LIMIT"))
        setattr(state, field, token)
    return token


# Tokens signed lately, by serializer and the session's raw token: when, and the token.
_signed_tokens: dict[tuple, tuple[float, str]] = {}


def _signed_token(serializer, raw: str, time_limit: float | None) -> str:
    """The session's token signed, as signed for an earlier page of the same session
    while that is young: with no time limit (ours: a token lives as long as its session)
    for as long as it is remembered, else for a tenth of the limit, so a page never gets
    one that has used up more of it. Signing it was about 2 % of a staff page's CPU."""
    now = time.time()
    kept = _signed_tokens.get((serializer, raw))
    if kept is not None and (time_limit is None or 0 <= now - kept[0] <= time_limit / 10):
        return kept[1]
    token = serializer.dumps(raw)
    if len(_signed_tokens) >= _KEPT_MAX:
        _signed_tokens.clear()
    _signed_tokens[(serializer, raw)] = (now, token)
    return token


def check_csrf_token(data: str | None) -> None:
    """flask_wtf.csrf.validate_csrf with the kept serializer: the same checks in the same
    order, the same ValidationError messages (Flask-WTF builds a serializer per check)."""
    app = current_app._get_current_object()
    config = app.config
    secret = config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    if not secret:
        raise RuntimeError("A secret key is required to use CSRF.")
    field = config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    if not data:
        raise ValidationError("The CSRF token is missing.")
    visitor = session._get_current_object()
    if field not in visitor:
        raise ValidationError("The CSRF session token is missing.")
    serializer = _serializer((secret,), CSRF_SALT, None, ())
    try:
        token = serializer.loads(data, max_age=config.get("WTF_CSRF_TIME_LIMIT", 3600))
    except SignatureExpired as error:
        raise ValidationError("The CSRF token has expired.") from error
    except BadData as error:
        raise ValidationError("The CSRF token is invalid.") from error
    if not hmac.compare_digest(visitor[field], token):
        raise ValidationError("The CSRF tokens do not match.")


def init_app(app: Flask) -> None:
    app.session_interface = KeptSessionInterface()
    # Templates' csrf_token() too, in place of Flask-WTF's (registered earlier): the global
    # for macros imported without context, the context processor for the rest.
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
