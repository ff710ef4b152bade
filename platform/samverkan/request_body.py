"""The request class: a plain form's body read straight into its fields.

Every form a citizen or case worker sends without a file is a short
application/x-www-form-urlencoded body (a web submission's is only its CSRF token).
werkzeug reads one through its generic machinery (a form-data parser object, a limited
stream wrapping the input, the content type parsed, each limit read from the app through
Flask's proxies): about 40 µs of a web submission's CPU, where splitting the body is 3.
Here such a body, with its length given and within MAX_CONTENT_LENGTH, is read and split
with the very call werkzeug ends in (urllib's parse_qsl, werkzeug's error handler), to
the same fields (tests/test_request_body.py compares them over arbitrary bodies). Any
other body, and one too long (werkzeug's 413), goes werkzeug's way.
"""

from io import BytesIO
from urllib.parse import parse_qsl

from flask import Request, current_app
from werkzeug.exceptions import ClientDisconnected

PLAIN_FORM = "application/x-www-form-urlencoded"


class FormRequest(Request):
    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        """werkzeug's, but a body sent without its length (chunked) that fills the limit
        is read one byte further: werkzeug stops at the limit without a word, and the
        body, cut short, would be refused as broken JSON instead of too large (413)."""
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and len(data) >= limit and self.content_length is None:
            self.stream.read(1)  # werkzeug's RequestEntityTooLarge when there is more
        return data.decode(errors="replace") if as_text else data  # as werkzeug decodes

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        body = self._plain_form_body()
        if body is None:
            super()._load_form_data()
            return
        try:
            # As werkzeug's parser: an undecodable body is an empty form (its parser is silent).
            fields = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        except ValueError:
            fields = []
        # What werkzeug leaves: the form, no files, and the body read (an empty stream).
        self.__dict__.update(
            form=self.parameter_storage_class(fields),
            files=self.parameter_storage_class(),
            stream=BytesIO(b""),
        )
        if current_app and current_app.debug:  # as Flask's: a clear error for request.files
            from flask.debughelpers import attach_enctype_error_multidict

            attach_enctype_error_multidict(self)

    def _plain_form_body(self) -> bytes | None:
        """The body of a plain form of a stated length within the limit, read; else None
        (and nothing read)."""
        environ = self.environ
        if environ.get("CONTENT_TYPE") != PLAIN_FORM:
            return None
        cached = getattr(self, "_cached_data", None)  # read already (get_data(cache=True))
        if cached is not None:
            return cached
        length = self.content_length  # werkzeug's reading of the header: None if not plain
        limit = self.max_content_length
        if length is None or limit is None or length > limit:
            return None
        body = environ["wsgi.input"].read(length)
        # werkzeug: a server that ends the body itself (gunicorn) has said when it ended;
        # otherwise a body shorter than its stated length is a client gone (400).
        if len(body) < length and "wsgi.input_terminated" not in environ:
            raise ClientDisconnected()
        return body
