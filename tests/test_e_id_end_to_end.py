"""The whole e-ID journey over real HTTP, as a browser makes it: the app served on a
loopback port, the development e-ID provider on another, and a requests session that
follows every redirect between them and posts every form (the provider's too).

Sign in, send cases to two members, see both in Mina ärenden, sign out here and at the
provider."""

import re
import threading
from urllib.parse import urlsplit

import pytest
import requests
from conftest import csrf_token
from identity_support import TOLVAN, register_person
from werkzeug.serving import make_server


@pytest.fixture(scope="module")
def http_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{server.server_port}"
    # The address the provider sends the browser back to is built from PUBLIC_URL (the
    # suite's SERVER_NAME would name another host).
    before = app.config["PUBLIC_URL"]
    app.config["PUBLIC_URL"] = address
    yield address
    app.config["PUBLIC_URL"] = before
    server.shutdown()
    thread.join(timeout=10)


def submit_form(browser: requests.Session, page: requests.Response, data: dict):
    """Post the page's form (its action, its CSRF token) the way a browser would."""
    action = re.search(r'<form method="post"[^>]*action="([^"]+)"', page.text)
    target = action.group(1).replace("&amp;", "&") if action else page.url
    if target.startswith("/"):
        parts = urlsplit(page.url)
        target = f"{parts.scheme}://{parts.netloc}{target}"
    answer = browser.post(target, data={"csrf_token": csrf_token(page.text), **data}, timeout=20)
    assert answer.status_code == 200, (answer.url, answer.status_code, answer.text[:500])
    return answer


def test_sign_in_send_to_two_members_see_both_and_sign_out(http_server, e_id_provider):
    register_person(e_id_provider, "tolvan", TOLVAN)
    browser = requests.Session()

    # Mina ärenden → our sign-in → the provider's form, which Tolvan posts.
    at_provider = browser.get(f"{http_server}/mina-arenden", timeout=20)
    assert at_provider.url.startswith(f"{e_id_provider}/oauth2/authorize")
    mine = browser.post(at_provider.url, data={"sub": "tolvan"}, timeout=20)
    assert mine.url == f"{http_server}/mina-arenden"
    assert "Tolvan Tolvansson" in mine.text and "Du har inga ärenden här ännu" in mine.text

    # A fault report in Kil (anyone may send it; signed in, it is linked to Tolvan).
    page = browser.get(f"{http_server}/kil/e/felanmalan/steg/fel", timeout=20)
    page = submit_form(
        browser,
        page,
        {"kind": "belysning", "description": "Lampan är släckt.", "location": "Torget"},
    )
    page = submit_form(browser, page, {"want_contact": "no"})
    assert page.url.endswith("/kil/e/felanmalan/kontrollera")
    receipt_kil = submit_form(browser, page, {})
    kil = re.search(r"KIL-\d{4}-\d{6}", receipt_kil.text).group(0)

    # A request for a copy of personal data in Arvika: it needs e-ID, and the e-ID fills
    # in who is asking.
    page = browser.get(f"{http_server}/arvika/e/registerutdrag/steg/du", timeout=20)
    assert 'value="19121212-1212" readonly' in page.text
    page = submit_form(browser, page, {})
    page = submit_form(browser, page, {"areas": "alla"})
    page = submit_form(browser, page, {"delivery": "hamta"})
    assert "19121212-1212" in page.text  # check answers
    receipt_arvika = submit_form(browser, page, {})
    arvika = re.search(r"ARV-\d{4}-\d{6}", receipt_arvika.text).group(0)

    mine = browser.get(f"{http_server}/mina-arenden", timeout=20)
    assert kil in mine.text and arvika in mine.text
    assert "Kils kommun" in mine.text and "Arvika kommun" in mine.text
    # Each opens its status page at its own member.
    status_link = re.search(r'href="(/arvika/arende/[^"]+)"', mine.text).group(1)
    status = browser.get(f"{http_server}{status_link}", timeout=20)
    assert status.status_code == 200 and arvika in status.text

    # Sign out: our session ends, then the provider's (its confirmation form), then back.
    at_provider = submit_form(browser, mine, {})
    assert at_provider.url.startswith(f"{e_id_provider}/oauth2/end_session")
    back = browser.post(
        f"{e_id_provider}/oauth2/end_session/confirm",
        data={
            "redirect_uri": re.search(r'name="redirect_uri" value="([^"]+)"', at_provider.text)
            .group(1)
            .replace("&amp;", "&")
        },
        timeout=20,
    )
    assert back.url.startswith(f"{http_server}/utloggad")
    assert "Du är utloggad" in back.text
    again = browser.get(f"{http_server}/mina-arenden", timeout=20, allow_redirects=False)
    assert again.status_code == 302 and "/logga-in" in again.headers["Location"]
