"""Links remembered per worker (urls.py) are the links Flask builds, in every request."""

from contextlib import contextmanager

import pytest
from flask import Flask, url_for
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.routing import BuildError

from samverkan import urls

LINKS = [
    ("casework.inbox", {}),
    ("casework.inbox", {"status": "received", "assigned": "me"}),
    ("casework.inbox", {"assigned": "me", "status": "received"}),  # another order
    ("casework.case", {"reference": "KIL-2026-000001"}),
    ("casework.case", {"reference": ""}),
    ("citizen.home", {}),
    ("citizen.index", {}),
    ("static", {"filename": "samverkan.css"}),
    ("citizen.accessibility_statement", {"tenant": "eda"}),  # another member, named
    ("casework.inbox", {"page": 1}),
    ("casework.inbox", {"page": True}),  # equal to 1 as a key, written otherwise
]


def _flask_link(app, endpoint, **values):
    """Flask's own url_for, without the memory."""
    return Flask.url_for(app, endpoint, **values)


@pytest.fixture(autouse=True)
def _empty_memory(app):
    app.link_memory.links.clear()


@contextmanager
def request_to(app, path, **options):
    """A request to `path`, its member resolved and its language chosen."""
    with app.test_request_context(path, **options):
        app.preprocess_request()
        yield


@pytest.mark.parametrize("member", ["kil", "eda"])
def test_remembered_links_are_the_links_flask_builds(app, member):
    with request_to(app, f"/{member}/staff/"):
        for endpoint, values in LINKS:
            expected = _flask_link(app, endpoint, **values)
            assert url_for(endpoint, **values) == expected  # built
            assert url_for(endpoint, **values) == expected  # remembered
    assert app.link_memory.links  # the memory was used, not only passed through


def test_a_link_remembered_for_one_member_is_not_another_members(app):
    with request_to(app, "/kil/staff/"):
        assert url_for("casework.inbox") == "/kil/staff/"
    with request_to(app, "/eda/staff/"):
        assert url_for("casework.inbox") == "/eda/staff/"
    with request_to(app, "/"):
        assert url_for("citizen.index") == "/"


def test_the_script_root_is_part_of_the_key(app):
    with request_to(app, "/kil/staff/"):
        assert url_for("casework.inbox") == "/kil/staff/"
    with request_to(app, "/kil/staff/", base_url="http://localhost/e-tjanster/"):
        assert url_for("casework.inbox") == "/e-tjanster/kil/staff/"


def test_blueprint_relative_links_follow_the_request(app):
    with request_to(app, "/kil/staff/"):
        assert url_for(".inbox") == "/kil/staff/"
    with request_to(app, "/kil/"):
        assert url_for(".home") == "/kil/"


def test_external_anchored_and_unhashable_links_are_built_as_flask_builds_them(app):
    with request_to(app, "/kil/staff/"):
        assert url_for("casework.inbox", _external=True) == "http://localhost/kil/staff/"
        assert url_for("casework.inbox", _anchor="arenden") == "/kil/staff/#arenden"
        assert url_for("casework.inbox", status=["received", "closed"]) == (
            "/kil/staff/?status=received&status=closed"
        )
    assert app.link_memory.links == {}


def test_links_are_not_remembered_once_another_url_default_is_added(app):
    def add_theme(endpoint, values):
        if endpoint == "citizen.home":
            values.setdefault("tema", "mork")

    memory = app.link_memory
    app.url_default_functions[None].append(add_theme)
    memory._safe = None
    try:
        with request_to(app, "/kil/"):
            assert url_for("citizen.home") == "/kil/?tema=mork"
        assert memory.links == {}
    finally:
        app.url_default_functions[None].remove(add_theme)
        memory._safe = None


def test_links_with_a_private_token_never_keep_the_token(app):
    """A receipt's link is kept with a stand-in for its token; a link back to a page
    (`next`) is not kept at all."""
    with request_to(app, "/kil/"):
        token = "A" * 43
        assert url_for("citizen.receipt", token=token) == f"/kil/arende/{token}/kvitto"
        back = f"/kil/arende/{token}"
        assert url_for("i18n.switch", lang="en", next=back).endswith(f"?next={back}")
    kept = list(app.link_memory.links.values())
    assert kept == [f"/kil/arende/{urls.TOKEN_STAND_IN}/kvitto"]


ENDPOINTS = ("citizen.receipt", "citizen.status", "citizen.extract")


@settings(max_examples=200, deadline=None)
@given(token=st.text(min_size=0, max_size=70))
def test_a_link_with_a_token_is_the_link_flask_builds(app, token):
    """Any token, plain (the link from the memory, the token put in) or not (built as
    usual), in every route that takes one."""
    with request_to(app, "/kil/"):
        for endpoint in ENDPOINTS:
            try:
                expected = _flask_link(app, endpoint, token=token)
            except BuildError:  # not a token the route takes: neither may make a link
                with pytest.raises(BuildError):
                    url_for(endpoint, token=token)
                continue
            assert url_for(endpoint, token=token) == expected
            assert url_for(endpoint, token=token) == expected
        stand_ins = {_flask_link(app, e, token=urls.TOKEN_STAND_IN) for e in ENDPOINTS}
    assert set(app.link_memory.links.values()) <= stand_ins  # never the token itself


def test_the_least_recently_used_link_is_forgotten_first(app, monkeypatch):
    from samverkan import urls

    monkeypatch.setattr(urls, "MEMORY_SIZE", 3)
    memory = app.link_memory
    with request_to(app, "/kil/staff/"):
        for reference in ("KIL-2026-000001", "KIL-2026-000002", "KIL-2026-000003"):
            url_for("casework.case", reference=reference)
        url_for("casework.case", reference="KIL-2026-000001")  # used again: kept
        url_for("casework.case", reference="KIL-2026-000004")  # the oldest unused goes
    kept = {dict((name, value) for name, _, value in key[1])["reference"] for key in memory.links}
    assert kept == {"KIL-2026-000001", "KIL-2026-000003", "KIL-2026-000004"}


def test_a_link_never_reads_the_members_row(app):
    """After a failed statement the request's member row is expired and its session must
    be rolled back first: the 503 page's links must not load it (make faults found a bare
    500 from a cut connection)."""
    from flask import g

    class ExpiredMember:
        id = 1

        @property
        def slug(self):
            raise AssertionError("a link loaded the member's row")

    with request_to(app, "/kil/"):
        expected = {e: _flask_link(app, e) for e in ("citizen.index",)}
        g.tenant = ExpiredMember()
        for endpoint, link in expected.items():
            assert url_for(endpoint) == link  # built
            assert url_for(endpoint) == link  # remembered
        assert url_for("i18n.switch", lang="en").startswith("/sprak/en")
