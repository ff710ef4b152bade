"""The browser suite: real headless Chromium (Debian's /usr/bin/chromium, never a downloaded
build) driven by Playwright for Python, against the app served over HTTP on loopback by a
live server thread for the whole session, on the suite's own migrated and synced database.

Without Chromium (or without Playwright) every test here is skipped with the reason."""

import logging
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from browser.browser_support import CHROMIUM, SCREENSHOTS, WIDTHS


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install -y chromium); .ci/run installs it"
        )
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError:
        return "browser tests need the dev extra (playwright, axe-playwright-python)"
    return None


# Package scope: the server, and the PUBLIC_URL it gives the app, end with this directory's
# tests; the rest of the suite expects the app's links to name the suite's SERVER_NAME.
@pytest.fixture(scope="package")
def live_server(app):
    """The app served over HTTP on a free loopback port by a threaded werkzeug server. For
    its lifetime the app's PUBLIC_URL is its address: the e-ID provider sends the browser
    back to the callback built from it (the suite's SERVER_NAME would name localhost:80)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the app logs each request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{server.server_port}"
    before = app.config["PUBLIC_URL"]
    app.config["PUBLIC_URL"] = address
    try:
        yield address
    finally:
        app.config["PUBLIC_URL"] = before
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def browser(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture(scope="session")
def screenshots():
    """Where the tests leave pictures of the pages for a reviewer (not committed)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()
    return SCREENSHOTS


def _console_error(message, errors: list[str]) -> None:
    # A failed load is judged by _failed_resource: a page answered 422 (a form with errors)
    # is meant, a missing style sheet is not.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _failed_resource(response, errors: list[str]) -> None:
    # Browsers ask for /favicon.ico by themselves; the site has none.
    if (
        response.status >= 400
        and response.request.resource_type != "document"
        and not response.url.endswith("/favicon.ico")
    ):
        errors.append(f"{response.status} for {response.url}")


@pytest.fixture
def page(app, browser, live_server, monkeypatch):
    """A fresh browser context (its own cookies) for each test, in Swedish, 1280 px wide.
    Links the app writes out in full (the status link) name the live server, not the
    suite's SERVER_NAME."""
    monkeypatch.setitem(app.config, "SERVER_NAME", live_server.removeprefix("http://"))
    context = browser.new_context(
        base_url=live_server,
        locale="sv-SE",
        timezone_id="Europe/Stockholm",
        viewport={"width": WIDTHS["wide"], "height": 900},
    )
    context.set_default_timeout(10_000)
    # The development e-ID provider's pages ask a CDN for a style sheet: nothing leaves
    # the machine (a refused load is not counted as an error below).
    context.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: _console_error(message, errors))
    page.on("response", lambda response: _failed_resource(response, errors))
    yield page
    context.close()
    # A script error or a CSP refusal shows in the console: none may happen.
    assert errors == []
