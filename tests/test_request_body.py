"""A plain form's fields read by FormRequest (request_body.py) are the fields werkzeug
reads: for any body, read from the server's input or from data read already, and a body
too long or cut short is refused as werkzeug refuses it."""

import io

import pytest
from flask import Request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from samverkan.request_body import PLAIN_FORM, FormRequest


def environ(body: bytes, *, terminated: bool, content_type: str = PLAIN_FORM, length=None):
    built = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    if length is not None:
        built["CONTENT_LENGTH"] = str(length)
    if terminated:  # as gunicorn says: it ends the body itself
        built["wsgi.input_terminated"] = True
    return built


def fields(request_class, built: dict, cached: bool = False) -> list:
    request = request_class({**built, "wsgi.input": io.BytesIO(built["wsgi.input"].getvalue())})
    if cached:
        request.get_data(cache=True)
    return list(request.form.items(multi=True)), list(request.files.items()), request.get_data()


# Bodies as forms are written, and any bytes at all (not UTF-8, stray % and +).
form_text = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=6).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()
)
bodies = st.one_of(form_text, st.binary(max_size=80), st.just(b"a=%zz&b=%C3%A5&c=+&=&&d"))


@settings(max_examples=300, deadline=None)
@given(body=bodies, terminated=st.booleans(), cached=st.booleans())
def test_a_plain_forms_fields_are_werkzeugs(app, body, terminated, cached):
    with app.app_context():
        built = environ(body, terminated=terminated)
        assert fields(FormRequest, built, cached) == fields(Request, built, cached)


def test_the_app_reads_requests_with_it(app):
    assert app.request_class is FormRequest


def test_other_bodies_go_werkzeugs_way(app):
    with app.app_context():
        for content_type in (f"{PLAIN_FORM}; charset=utf-8", "multipart/form-data; boundary=x"):
            built = environ(b"a=1", terminated=True, content_type=content_type)
            assert fields(FormRequest, built) == fields(Request, built)


@pytest.mark.parametrize("terminated", [True, False])
def test_a_body_over_the_limit_is_refused_as_werkzeug_refuses_it(app, terminated):
    with app.app_context():
        too_long = environ(
            b"a=1", terminated=terminated, length=app.config["MAX_CONTENT_LENGTH"] + 1
        )
        for request_class in (FormRequest, Request):
            with pytest.raises(RequestEntityTooLarge):
                fields(request_class, too_long)


def test_a_body_cut_short_is_a_client_gone_unless_the_server_ends_bodies(app):
    with app.app_context():
        cut = environ(b"a=1&b=2", terminated=False, length=20)
        for request_class in (FormRequest, Request):
            with pytest.raises(ClientDisconnected):
                fields(request_class, cut)
        ended = environ(b"a=1&b=2", terminated=True, length=20)
        assert fields(FormRequest, ended) == fields(Request, ended)
