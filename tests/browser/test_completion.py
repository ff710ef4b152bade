"""A citizen's completion with files, as the browser sends it: the page refuses files over
their limits (or too many) before sending anything, in the same words the server uses,
and keeps what was written; files within them go with the text. No WCAG 2.1 A or AA
violation on the way, and no sideways scrolling at 320 px."""

import sqlalchemy as sa
from api_support import tiny_png
from test_form_engine import pdf_minimal

from browser.browser_support import audit, focused
from browser.test_pages import ANSWERS, create_user, sign_in
from samverkan.database_roles import maintenance_session

SEND = "main form button[type=submit]"


def waiting_case(app) -> tuple[str, str]:
    """A case at Arvika waiting for the citizen: its reference and status page's path."""
    response = app.test_client().post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=ANSWERS
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text("UPDATE cases SET status = 'waiting_for_citizen' WHERE reference = :r"),
            {"r": created["reference"]},
        )
        session.commit()
    return created["reference"], "/arvika/arende/" + created["status_url"].rsplit("/", 1)[-1]


def test_files_over_their_limits_are_refused_before_sending_and_the_text_stays(
    app, page, axe, screenshots
):
    problems = []
    reference, status_path = waiting_case(app)
    page.goto(status_path)
    problems += audit(page, axe, screenshots, "11-status-waiting")
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)

    page.fill("#f-completion", "Här är intyget.")
    over = pdf_minimal() + b"0" * (10 * 1024 * 1024)
    page.set_input_files(
        "#f-completion-files",
        [
            {"name": "intyg.pdf", "mimeType": "application/pdf", "buffer": pdf_minimal()},
            {"name": "stort-intyg.pdf", "mimeType": "application/pdf", "buffer": over},
        ],
    )
    page.click(SEND)
    page.wait_for_selector("#error-summary")
    assert posts == []
    assert focused(page)["id"] == "error-summary"
    assert page.title().startswith("Fel: ")
    assert (
        "Filer – stort-intyg.pdf: Filen är för stor. Den får vara högst 10 MB."
        in page.inner_text("#error-summary")
    )
    files = page.locator("#f-completion-files")
    assert files.get_attribute("aria-invalid") == "true"
    assert "f-completion-files-error" in files.get_attribute("aria-describedby").split()
    assert page.input_value("#f-completion") == "Här är intyget."
    problems += audit(page, axe, screenshots, "11-status-files-refused")

    six = [
        {"name": f"sida-{n}.png", "mimeType": "image/png", "buffer": tiny_png()} for n in range(6)
    ]
    page.set_input_files("#f-completion-files", six)
    page.click(SEND)
    assert "Du kan bifoga högst 5 filer." in page.inner_text("#error-summary")
    assert page.locator(".error-summary").count() == 1 and posts == []

    page.click("#error-summary a")
    assert focused(page)["id"] == "f-completion-files"
    page.set_input_files("#f-completion-files", six[:2])
    with page.expect_navigation():
        page.click(SEND)
    assert len(posts) == 1
    assert "Tack! Din komplettering är skickad till handläggaren." in page.inner_text("main")
    # Names only where the answers are shown: this browser did not send the case.
    assert "2 filer skickades med." in page.inner_text("main")
    problems += audit(page, axe, screenshots, "11-status-completed")

    # The case worker finds them under the completion, to download.
    sign_in(page, "arvika", create_user(app, "anna@arvika.example", "arvika", "case_worker"))
    page.goto(f"/arvika/staff/arenden/{reference}")
    links = page.locator(".sent-files a")
    assert links.all_inner_texts() == ["sida-0.png", "sida-1.png"]
    with page.expect_download() as download:
        links.first.click()
    assert download.value.suggested_filename == "sida-0.png"
    problems += audit(page, axe, screenshots, "22-case-completion-files")
    assert problems == []


def test_several_files_too_large_are_named_together_and_a_second_click_sends_nothing(app, page):
    _, status_path = waiting_case(app)
    page.goto(status_path)
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    over = pdf_minimal() + b"0" * (10 * 1024 * 1024)
    page.set_input_files(
        "#f-completion-files",
        [
            {"name": name, "mimeType": "application/pdf", "buffer": over}
            for name in ("a.pdf", "b.pdf")
        ],
    )
    page.click(SEND)
    assert (
        "Filer – a.pdf, b.pdf: Filerna är för stora. Var och en får vara högst 10 MB."
        in page.inner_text("#error-summary")
    )
    assert posts == []

    # Two clicks on the button, the second while the first's files are on their way. The
    # page's own listener (on the window, after the script's on the document) records
    # whether each submission was let go, and then keeps it from leaving: no navigation
    # to wait for, and what a second click does is read off the event itself.
    page.set_input_files(
        "#f-completion-files",
        [{"name": "intyg.pdf", "mimeType": "application/pdf", "buffer": pdf_minimal()}],
    )
    let_go, disabled = page.evaluate(
        """() => {
            const form = document.querySelector('main form');
            const button = form.querySelector('button[type=submit]');
            const letGo = [];
            window.addEventListener('submit', (event) => {
                letGo.push(!event.defaultPrevented);
                event.preventDefault();
            });
            button.click();
            const disabled = button.getAttribute('aria-disabled');
            button.click();
            return [letGo, disabled];
        }"""
    )
    assert let_go == [True, False]
    assert disabled == "true"
    assert posts == []
