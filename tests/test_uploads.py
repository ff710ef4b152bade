"""Uploads: sniffed against each field's allow-list, capped below the scanner's limit, and,
when CLAMD_SOCKET is set, scanned by clamd before anything is written — refused when
infected (EICAR), and refused when clamd cannot give a verdict (fail closed).

A fake clamd in a thread speaks INSTREAM as clamd does; a real clamd is used when one
answers (see test_a_real_clamd_*)."""

import io
import json
import os
import shutil
import socket
import struct
import tempfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, VARMEPUMP, as_upload, nothing_stored, submissions, tiny_png
from conftest import count_all
from test_form_engine import pdf_minimal

from samverkan.cases.models import Draft
from samverkan.catalogue import scanning, uploads
from samverkan.catalogue.definition_schema import FieldSchema
from samverkan.catalogue.scanning import INFECTED, UNAVAILABLE, ClamdScanner, ScannerUnavailable
from samverkan.database_roles import maintenance_session
from samverkan.settings import load_settings

# The EICAR test file (eicar.org): harmless, and found by every scanner. Joined at run time
# so that this source file is not itself reported by a scanner on a developer's machine.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
FOUND = "Eicar-Test-Signature"


def pdf_carrying(payload: bytes) -> bytes:
    """A PDF (so it passes the content check) with `payload` as one object's stream:
    ClamAV scans a PDF's streams as files of their own."""
    return (
        b"%PDF-1.4\n"
        b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"3 0 obj<</Length "
        + str(len(payload)).encode()
        + b">>stream\n"
        + payload
        + b"\nendstream\nendobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


# -- a fake clamd ---------------------------------------------------------------------------


class FakeClamd:
    """Answers INSTREAM like clamd: FOUND for a stream holding EICAR, OK otherwise; or
    misbehaves as `mode` says. Keeps every stream it was sent."""

    def __init__(self, listener: socket.socket, address: str):
        self.listener = listener
        self.address = address
        self.mode = "verdict"
        self.streams: list[bytes] = []
        self.release = threading.Event()  # ends a "silent" reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        command = b""
        while not command.endswith(b"\0"):
            byte = reader.read(1)
            if not byte:
                return
            command += byte
        assert command == b"zINSTREAM\0", command
        stream = b""
        while True:
            header = reader.read(4)
            if len(header) < 4:
                return  # the client gave up (its time ran out): as clamd, say nothing
            (size,) = struct.unpack("!L", header)
            if size == 0:
                break
            stream += reader.read(size)
        self.streams.append(stream)
        if self.mode == "verdict":
            verdict = f"{FOUND} FOUND" if EICAR in stream else "OK"
            conn.sendall(f"stream: {verdict}\0".encode())
        elif self.mode == "garbled":
            conn.sendall(b"\xff\xfe what?\0")
        elif self.mode == "error":
            conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
        elif self.mode == "silent":
            self.release.wait(30)  # until the test ends
        # "hang up": close without a word

    def close(self) -> None:
        self.release.set()
        self.listener.close()


@pytest.fixture
def clamd():
    folder = tempfile.mkdtemp(prefix="clamd-", dir="/tmp")  # a unix socket path is short
    path = os.path.join(folder, "clamd.ctl")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    fake = FakeClamd(listener, path)
    yield fake
    fake.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clamd_tcp():
    listener = socket.create_server(("127.0.0.1", 0))
    fake = FakeClamd(listener, f"127.0.0.1:{listener.getsockname()[1]}")
    yield fake
    fake.close()


@pytest.fixture
def scanned(app, clamd, monkeypatch):
    """The app scans uploads with the fake clamd."""
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", clamd.address)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT", 10.0)
    return clamd


def scanner(address: str, timeout: float = 10.0) -> ClamdScanner:
    return ClamdScanner(address=address, timeout=timeout, stream_max_bytes=25 * scanning.MB)


def draft_answers(app) -> list[dict]:
    """Every draft's answers, read as the owner across members."""
    with app.app_context(), maintenance_session() as session:
        rows = session.execute(sa.select(Draft.answers)).scalars().all()
    return [json.loads(row) if isinstance(row, str) else row for row in rows]


def files_on_disk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- the client -----------------------------------------------------------------------------


def test_the_client_sends_the_whole_file_and_reads_clamds_verdict(clamd):
    big = pdf_minimal() + os.urandom(300_000)  # several chunks
    assert scanner(clamd.address).scan(big) is None
    assert clamd.streams == [big]
    assert scanner(clamd.address).scan(pdf_carrying(EICAR)) == FOUND


def test_the_client_reaches_clamd_over_tcp_too(clamd_tcp):
    assert scanner(clamd_tcp.address).scan(EICAR) == FOUND
    assert scanner(clamd_tcp.address).scan(tiny_png()) is None


@pytest.mark.parametrize("mode", ["garbled", "error", "hang up"])
def test_an_answer_that_is_not_a_verdict_is_no_verdict(clamd, mode):
    clamd.mode = mode
    with pytest.raises(ScannerUnavailable):
        scanner(clamd.address).scan(tiny_png())


def test_a_clamd_that_does_not_answer_in_time_is_no_verdict(clamd):
    clamd.mode = "silent"
    with pytest.raises(ScannerUnavailable, match="timed out|in time"):
        scanner(clamd.address, timeout=0.2).scan(tiny_png())


def test_no_clamd_at_the_address_is_no_verdict(tmp_path):
    with pytest.raises(ScannerUnavailable):
        scanner(str(tmp_path / "nothing.ctl")).scan(tiny_png())
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(ScannerUnavailable):
        scanner(f"127.0.0.1:{port}").scan(tiny_png())


# -- settings and the size cap ---------------------------------------------------------------


def test_scanning_is_off_unless_a_socket_is_set():
    assert scanning.scanner_from({"CLAMD_SOCKET": ""}) is None
    on = scanning.scanner_from({"CLAMD_SOCKET": "127.0.0.1:3310"})
    assert on.stream_max_bytes == 25 * scanning.MB  # clamd's default StreamMaxLength


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CLAMD_SOCKET", "clamd", "neither a socket path nor host:port"),
        ("CLAMD_SOCKET", "localhost:99999", "neither a socket path nor host:port"),
        ("CLAMD_STREAM_MAX_MB", 1, "2 or more"),
    ],
)
def test_a_malformed_scanner_setting_stops_the_start(setting, value, message):
    overrides = {"SECRET_KEY": "x" * 40, "CLAMD_SOCKET": "/run/clamav/clamd.ctl", setting: value}
    with pytest.raises(ValueError, match=message):
        load_settings(overrides)


def test_no_definition_can_allow_a_file_the_default_scanner_limit_would_refuse():
    largest = FieldSchema().fields["max_size_mb"].validators[0].max
    assert largest * scanning.MB < scanning.scanner_from({"CLAMD_SOCKET": "/x"}).max_file_bytes
    errors = FieldSchema().validate(
        {"name": "bilaga", "type": "file", "label": {"sv": "B", "en": "F"}, "max_size_mb": 30}
    )
    assert "max_size_mb" in errors


def test_a_lower_scanner_limit_lowers_every_fields_cap_and_says_so(
    app, client, scanned, monkeypatch
):
    # clamd configured with StreamMaxLength 2M (for this test only: the app is the session's)
    monkeypatch.setitem(app.config, "CLAMD_STREAM_MAX_MB", 2)
    too_big = pdf_minimal() + b"\0" * (1024 * 1024)  # over 1 MB, under the field's 10 MB
    answers = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", too_big)}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "site_plan": ["Filen är för stor. Den får vara högst 1 MB."]
    }
    assert scanned.streams == []  # refused before it reached clamd


# -- the per-field allow-list ----------------------------------------------------------------


def test_each_field_takes_only_the_kinds_its_definition_lists(app, client):
    pdf = as_upload("karta.pdf", pdf_minimal())
    photo = client.post(submissions("arvika", "felanmalan"), json={**FELANMALAN, "photo": pdf})
    assert photo.status_code == 422
    assert photo.get_json()["errors"] == {"photo": ["Filen måste vara av typen JPEG eller PNG."]}
    plan = client.post(submissions("arvika", "varmepump"), json={**VARMEPUMP, "site_plan": pdf})
    assert plan.status_code == 201, plan.get_json()


# -- the API ---------------------------------------------------------------------------------


def test_an_infected_file_is_refused_with_a_message_on_its_field_and_nothing_is_stored(
    app, client, scanned, upload_root
):
    before = files_on_disk(upload_root)
    answers = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", pdf_carrying(EICAR))}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"site_plan": [INFECTED]}
    assert nothing_stored(app)
    assert files_on_disk(upload_root) == before
    assert len(scanned.streams) == 1


def test_a_bare_eicar_file_is_refused_by_its_kind_before_any_scan(app, client, scanned):
    answers = {**VARMEPUMP, "site_plan": as_upload("eicar.pdf", EICAR)}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.get_json()["errors"] == {
        "site_plan": ["Filen måste vara av typen PDF, JPEG eller PNG."]
    }
    assert scanned.streams == []


def test_a_clean_file_is_scanned_and_stored(app, client, scanned, upload_root):
    before = set(files_on_disk(upload_root))
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 201, response.get_json()
    assert scanned.streams == [tiny_png()]
    assert count_all(app, "attachments") == 1
    new = set(files_on_disk(upload_root)) - before
    assert [path.read_bytes() for path in new] == [tiny_png()]


@pytest.mark.parametrize("mode", ["garbled", "error", "hang up", "gone"])
def test_without_a_verdict_the_submission_is_refused_503_and_nothing_is_stored(
    app, client, scanned, upload_root, mode, monkeypatch
):
    if mode == "gone":
        monkeypatch.setitem(app.config, "CLAMD_SOCKET", scanned.address + ".gone")
    scanned.mode = mode
    before = files_on_disk(upload_root)
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"  # the view's own, left as it is
    assert response.get_json()["errors"] == {"photo": [UNAVAILABLE]}
    assert nothing_stored(app)
    assert files_on_disk(upload_root) == before


def test_a_clamd_too_slow_to_answer_refuses_the_submission(app, client, scanned, monkeypatch):
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT", 0.2)
    scanned.mode = "silent"
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 503
    assert nothing_stored(app)


def test_answers_without_files_need_no_scanner(app, client, scanned):
    scanned.mode = "hang up"
    response = client.post(submissions("arvika", "felanmalan"), json=FELANMALAN)
    assert response.status_code == 201
    assert scanned.streams == []


# -- the web form: a step's files are scanned before the draft keeps them ------------------


def post_photo(client, read_csrf, photo: bytes, filename: str = "lampa.png"):
    page = client.get("/arvika/e/felanmalan/steg/fel")
    return client.post(
        "/arvika/e/felanmalan/steg/fel",
        data={
            "csrf_token": read_csrf(page.text),
            "kind": "belysning",
            "description": "Lampan lyser inte.",
            "location": "Storgatan 12",
            "photo": (io.BytesIO(photo), filename),
        },
        content_type="multipart/form-data",
    )


def test_an_infected_photo_in_a_step_is_refused_on_its_field_and_never_kept(
    app, client, read_csrf, scanned, upload_root
):
    before = files_on_disk(upload_root)
    # A PNG with the test string after its end: the fake clamd finds it anywhere.
    response = post_photo(client, read_csrf, tiny_png() + EICAR)
    assert response.status_code == 422
    assert INFECTED in response.text
    assert 'href="#f-photo"' in response.text  # the error summary links to the field
    assert files_on_disk(upload_root) == before
    assert [answers for answers in draft_answers(app) if "photo" in answers] == []
    assert scanned.streams == [tiny_png() + EICAR]


def test_a_step_whose_photo_cannot_be_scanned_is_refused_503_and_keeps_nothing(
    app, client, read_csrf, scanned, upload_root
):
    scanned.mode = "garbled"
    before = files_on_disk(upload_root)
    response = post_photo(client, read_csrf, tiny_png())
    assert response.status_code == 503
    assert UNAVAILABLE in response.text
    assert files_on_disk(upload_root) == before


def test_a_photo_replaced_in_a_step_leaves_no_file_behind(app, client, read_csrf, upload_root):
    """The first photo is deleted with the change that replaces it: no document stays on
    disk that no draft or case names (expiry and retention find files only by name)."""
    earlier = set(files_on_disk(upload_root))  # other tests' (the folder is the session's)

    def ours() -> list[Path]:
        return sorted(set(files_on_disk(upload_root)) - earlier)

    assert post_photo(client, read_csrf, tiny_png(), "forsta.png").status_code == 303
    [first] = ours()
    refused = post_photo(client, read_csrf, b"%PDF-1.4 not a photo", "fel.pdf")
    assert refused.status_code == 422
    assert ours() == [first]  # a refused replacement keeps the first, and says so
    assert "Uppladdad fil: <strong>forsta.png</strong>" in refused.text
    assert 'aria-describedby="f-photo-hint f-photo-current f-photo-error"' in refused.text
    second_photo = tiny_png() + b"\x00"  # another file, still a PNG
    assert post_photo(client, read_csrf, second_photo, "andra.png").status_code == 303
    [second] = ours()
    assert second != first and second.read_bytes() == second_photo
    [answers] = [a for a in draft_answers(app) if "photo" in a]
    assert answers["photo"]["file"]["storage_name"] == second.name


def test_a_clean_photo_in_a_step_is_kept_and_not_scanned_again_on_submit(
    app, client, read_csrf, scanned
):
    response = post_photo(client, read_csrf, tiny_png())
    assert response.status_code == 303, response.text
    contact = client.get(response.headers["Location"])
    response = client.post(
        response.headers["Location"],
        data={"csrf_token": read_csrf(contact.text), "want_contact": "no"},
    )
    check = client.get(response.headers["Location"])
    scanned.mode = "hang up"  # the file was scanned when it came in; submitting sends no file
    receipt = client.post("/arvika/e/felanmalan", data={"csrf_token": read_csrf(check.text)})
    assert receipt.status_code == 303
    assert count_all(app, "attachments") == 1
    assert scanned.streams == [tiny_png()]
    # Registered with its case (on PostgreSQL in the member's own transaction).
    with app.app_context(), maintenance_session() as session:
        row = session.execute(
            sa.text(
                "SELECT a.field_name, a.filename, a.size, a.created_at IS NOT NULL, c.channel"
                " FROM attachments a JOIN cases c"
                " ON c.tenant_id = a.tenant_id AND c.id = a.case_id"
            )
        ).one()
    assert tuple(row) == ("photo", "lampa.png", len(tiny_png()), True, "web")


# -- a real clamd, where one runs -------------------------------------------------------------


def _real_clamd() -> str | None:
    for address in (
        # TEST_CLAMD_SOCKET: a clamd for these tests alone (CI starts one: tests/clamd/start);
        # CLAMD_SOCKET would also make the session's app scan every upload.
        os.environ.get("TEST_CLAMD_SOCKET", ""),
        os.environ.get("CLAMD_SOCKET", ""),
        "/run/clamav/clamd.ctl",
        "/var/run/clamav/clamd.ctl",
    ):
        if not address:
            continue
        try:
            with scanner(address)._connect() as conn:
                conn.sendall(b"zPING\0")
                if conn.recv(16).startswith(b"PONG"):
                    return address
        except (OSError, ValueError):
            continue
    return None


REAL_CLAMD = _real_clamd()


@pytest.fixture
def real_clamd() -> str:
    """A real clamd's address. Skipped without one, unless SAMVERKAN_REQUIRE_CLAMD=1 (CI,
    which starts one with tests/clamd/start): there a missing clamd fails."""
    if REAL_CLAMD is None:
        missing = "no clamd answers at TEST_CLAMD_SOCKET, CLAMD_SOCKET or /run/clamav/clamd.ctl"
        if os.environ.get("SAMVERKAN_REQUIRE_CLAMD") == "1":
            pytest.fail(f"SAMVERKAN_REQUIRE_CLAMD=1 but {missing}")
        pytest.skip(f"{missing} (tests/clamd/start starts one)")
    return REAL_CLAMD


def test_a_real_clamd_finds_eicar_and_passes_a_clean_file(real_clamd):
    real = scanner(real_clamd, timeout=30)
    assert "eicar" in (real.scan(EICAR) or "").lower()
    assert real.scan(pdf_carrying(EICAR))  # anywhere in the file
    assert real.scan(tiny_png()) is None
    assert real.scan(pdf_minimal()) is None


def test_a_stream_beyond_a_real_clamds_limit_is_no_verdict(real_clamd):
    """clamd stops reading at its StreamMaxLength (25 MB by default, tests/clamd/start) and
    says so instead of a verdict: never taken for clean. The app's caps keep every file
    below it; this is what would happen were one set above it."""
    beyond = pdf_minimal() + bytes(25 * scanning.MB)
    with pytest.raises(ScannerUnavailable, match="size limit"):
        scanner(real_clamd, timeout=30).scan(beyond)


def test_a_real_clamd_stops_eicar_inside_a_pdf_submission(app, client, monkeypatch, real_clamd):
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", real_clamd)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT", 30.0)
    answers = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", pdf_carrying(EICAR))}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"site_plan": [INFECTED]}
    assert nothing_stored(app)
    clean = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", pdf_minimal())}
    assert client.post(submissions("arvika", "varmepump"), json=clean).status_code == 201


def test_a_members_logo_is_scanned_like_a_citizens_file(app, client, read_csrf, scanned):
    """The logo is served to every visitor of the member's pages: the same scan, fail closed."""
    from test_accounts import create, sign_in
    from test_admin import upload_logo

    assert create(app, "admin@arvika.example", role="tenant_admin").exit_code == 0
    assert sign_in(client, read_csrf, "admin@arvika.example").status_code == 303
    infected = upload_logo(client, read_csrf, tiny_png() + EICAR)
    assert infected.status_code == 422
    assert scanning.INFECTED in infected.text
    scanned.mode = "hang up"
    unscanned = upload_logo(client, read_csrf, tiny_png())
    assert unscanned.status_code == 422
    assert scanning.UNAVAILABLE in unscanned.text
    assert client.get("/arvika/logotyp").status_code == 404  # neither was kept
    scanned.mode = "verdict"
    assert upload_logo(client, read_csrf, tiny_png()).status_code == 303
    assert len(scanned.streams) == 3 and scanned.streams[-1] == tiny_png()


def test_a_step_whose_commit_fails_keeps_no_file(app, client, read_csrf, upload_root, monkeypatch):
    """The photo is written before the draft's commit; the connection lost at COMMIT must
    not leave a personal document on disk that no row points at."""
    from samverkan.extensions import db

    before = files_on_disk(upload_root)

    def lost_at_commit():
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", lost_at_commit)
    response = post_photo(client, read_csrf, tiny_png())
    assert response.status_code == 503
    assert files_on_disk(upload_root) == before


def test_a_submission_whose_commit_fails_keeps_no_file(app, client, upload_root, monkeypatch):
    from samverkan.extensions import db

    before = files_on_disk(upload_root)
    monkeypatch.setattr(
        db.session,
        "commit",
        lambda: (_ for _ in ()).throw(sa.exc.OperationalError("COMMIT", {}, Exception("lost"))),
    )
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 503
    assert files_on_disk(upload_root) == before
    monkeypatch.undo()
    assert nothing_stored(app)


def test_a_committed_step_keeps_its_file(app, client, read_csrf, upload_root):
    before = set(files_on_disk(upload_root))
    response = post_photo(client, read_csrf, tiny_png())
    assert response.status_code == 303, response.text
    new = set(files_on_disk(upload_root)) - before
    assert [path.read_bytes() for path in new] == [tiny_png()]


# -- a step's files over the request's limit ---------------------------------------------


def test_a_step_over_the_request_limit_is_shown_again_with_the_message_at_its_file(
    app, client, read_csrf, upload_root, monkeypatch
):
    """Over MAX_CONTENT_LENGTH the body is refused before it is read, so no answer of the
    step can be kept: the step comes back with what was saved and the message at its file
    field (the field's own limit), not a bare error page that leaves the form behind."""
    earlier = set(files_on_disk(upload_root))
    assert post_photo(client, read_csrf, tiny_png(), "forsta.png").status_code == 303
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    page = client.get("/arvika/e/felanmalan/steg/fel?andra=1")
    too_large = client.post(
        "/arvika/e/felanmalan/steg/fel?andra=1",
        data={
            "csrf_token": read_csrf(page.text),
            "description": "Lampan lyser inte alls.",
            "photo": (io.BytesIO(tiny_png() + b"\x00" * 100_000), "stor.png"),
        },
        content_type="multipart/form-data",
    )
    assert too_large.status_code == 303
    assert too_large.headers["Location"] == "/arvika/e/felanmalan/steg/fel?andra=1&fil=for-stor"
    shown = client.get(too_large.headers["Location"])
    assert shown.status_code == 200
    assert "<title>Fel:" in shown.text
    assert "Filen är för stor. Den får vara högst 10 MB." in shown.text
    assert 'href="#f-photo"' in shown.text  # the error summary leads to the field
    assert "Uppladdad fil: <strong>forsta.png</strong>" in shown.text  # what was saved stays
    assert "Lampan lyser inte." in shown.text
    [answers] = [a for a in draft_answers(app) if "photo" in a]
    assert answers["description"] == "Lampan lyser inte."
    assert len(set(files_on_disk(upload_root)) - earlier) == 1


def test_the_message_for_a_step_over_the_limit_is_in_the_pages_language(
    app, client, read_csrf, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    client.get("/sprak/en?next=/arvika/e/felanmalan/steg/fel")
    page = client.get("/arvika/e/felanmalan/steg/fel")
    too_large = client.post(
        "/arvika/e/felanmalan/steg/fel",
        data={
            "csrf_token": read_csrf(page.text),
            "photo": (io.BytesIO(tiny_png() + b"\x00" * 100_000), "stor.png"),
        },
        content_type="multipart/form-data",
    )
    shown = client.get(too_large.headers["Location"])
    assert "The file is too large. It must be 10 MB or smaller." in shown.text


def test_a_step_with_a_file_tells_the_browser_its_limits_and_messages(app, client):
    """What samverkan.js checks before sending (tests/browser/test_errors.py drives it):
    the field's own limit in bytes, the request's, and the messages the server gives."""
    page = client.get("/arvika/e/felanmalan/steg/fel").text
    assert f'data-max-bytes="{10 * 1024 * 1024}"' in page
    assert 'data-too-large="Filen är för stor. Den får vara högst 10 MB."' in page
    assert 'data-label="Bild"' in page
    assert f'data-max-request-bytes="{app.config["MAX_CONTENT_LENGTH"]}"' in page
    assert "data-files-together=" in page
    assert 'data-summary-titles="[&#34;Det finns 1 fel att rätta&#34;]"' in page
    client.get("/sprak/en?next=/arvika/e/felanmalan/steg/fel")
    english = client.get("/arvika/e/felanmalan/steg/fel").text
    assert 'data-too-large="The file is too large. It must be 10 MB or smaller."' in english
    assert 'data-label="Photo"' in english
    # A step without files carries none of it.
    assert "data-max-request-bytes" not in client.get("/arvika/e/felanmalan/steg/kontakt").text


def test_a_body_over_the_limit_elsewhere_gets_the_413_page(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    response = client.post(
        "/arvika/e/felanmalan",
        data={"csrf_token": "x", "padding": "x" * 100_000},
    )
    assert response.status_code == 413
    assert "För stor förfrågan" in response.text


def test_a_step_with_several_files_over_the_limit_says_so_at_each(app):
    """Each file may be within its own limit and the step's together over the request's."""
    from samverkan.citizen.views import _too_large_errors

    fields = [
        {"name": "plan", "type": "file", "max_size_mb": 10},
        {"name": "note", "type": "text"},
        {"name": "photo", "type": "file"},
    ]
    with app.test_request_context("/arvika/"):
        errors = _too_large_errors(fields)
    assert sorted(errors) == ["photo", "plan"]
    limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    assert errors["plan"] == [
        f"Filerna var tillsammans för stora för att tas emot: högst {limit_mb} MB "
        "sammanlagt. Välj mindre filer."
    ]


# -- a citizen's own files: removed, or thrown away with the answers -----------------------


def test_an_optional_file_can_be_removed_and_is_deleted(app, client, read_csrf, upload_root):
    earlier = set(files_on_disk(upload_root))
    assert post_photo(client, read_csrf, tiny_png(), "fel-bild.png").status_code == 303
    [stored] = sorted(set(files_on_disk(upload_root)) - earlier)
    page = client.get("/arvika/e/felanmalan/steg/fel?andra=1")
    assert (
        'name="ta_bort" value="photo"' in page.text and "Ta bort den uppladdade filen" in page.text
    )
    removed = client.post(
        "/arvika/e/felanmalan/steg/fel?andra=1",
        data={
            "csrf_token": read_csrf(page.text),
            "kind": "belysning",
            "description": "Lampan lyser inte.",
            "location": "Storgatan 12",
            "ta_bort": "photo",
        },
        content_type="multipart/form-data",
    )
    assert removed.status_code == 303
    assert not stored.exists()
    assert all("photo" not in answers for answers in draft_answers(app))
    assert "fel-bild.png" not in client.get("/arvika/e/felanmalan/steg/fel").text


def test_a_removed_file_stays_removed_when_another_answer_on_the_step_is_wrong(
    app, client, read_csrf, upload_root
):
    earlier = set(files_on_disk(upload_root))
    assert post_photo(client, read_csrf, tiny_png(), "fel-bild.png").status_code == 303
    [stored] = sorted(set(files_on_disk(upload_root)) - earlier)
    page = client.get("/arvika/e/felanmalan/steg/fel")
    refused = client.post(
        "/arvika/e/felanmalan/steg/fel",
        data={"csrf_token": read_csrf(page.text), "description": "", "ta_bort": "photo"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "fel-bild.png" not in refused.text
    assert not stored.exists()
    assert all("photo" not in answers for answers in draft_answers(app))


def test_starting_over_throws_the_answers_and_files_away(app, client, read_csrf, upload_root):
    earlier = set(files_on_disk(upload_root))
    assert post_photo(client, read_csrf, tiny_png(), "fel-bild.png").status_code == 303
    [stored] = sorted(set(files_on_disk(upload_root)) - earlier)
    start = client.get("/arvika/e/felanmalan")
    assert "Fortsätt där du var" in start.text and "Ta bort mina svar och börja om" in start.text
    before = count_all(app, "drafts")
    gone = client.post("/arvika/e/felanmalan/borja-om", data={"csrf_token": read_csrf(start.text)})
    assert gone.status_code == 303 and gone.headers["Location"] == "/arvika/e/felanmalan"
    assert count_all(app, "drafts") == before - 1
    assert not stored.exists()
    again = client.get("/arvika/e/felanmalan")
    assert "Dina svar och filer är borttagna." in again.text
    assert "Starta e-tjänsten" in again.text and "Ta bort mina svar" not in again.text
    assert "fel-bild.png" not in client.get("/arvika/e/felanmalan/steg/fel").text
    # Without its CSRF token nothing is thrown away.
    assert post_photo(client, read_csrf, tiny_png()).status_code == 303
    assert client.post("/arvika/e/felanmalan/borja-om").status_code == 400
    assert count_all(app, "drafts") == before


def test_a_long_file_name_is_shortened_in_its_stem_not_its_extension():
    """A 5 000-character name kept its first 200 characters: 'aaa…a', no '.png', and the
    case worker's download had no type."""
    from samverkan.catalogue.uploads import safe_display_name

    shortened = safe_display_name("a" * 5000 + ".png")
    assert len(shortened) == 200 and shortened.endswith("a.png")
    assert safe_display_name("kvitto.pdf") == "kvitto.pdf"
    assert len(safe_display_name("b" * 300)) == 200  # no extension: cut as before


@pytest.mark.parametrize(
    ("sent_as", "content_type", "saved_as"),
    [
        ("beslut.hta", "application/pdf", "beslut.pdf"),
        ("kvitto.html", "application/pdf", "kvitto.pdf"),
        ("foto.JPG", "image/jpeg", "foto.JPG"),
        ("foto.jpeg", "image/jpeg", "foto.jpeg"),
        ("bild.png.exe", "image/png", "bild.png.png"),
        ("intyg", "application/pdf", "intyg.pdf"),
        ("..", "application/pdf", "fil.pdf"),
        (".pdf", "application/pdf", "fil.pdf"),
        ("plan.pdf", "image/png", "plan.png"),
    ],
)
def test_a_file_is_saved_under_an_ending_its_content_has(sent_as, content_type, saved_as):
    """Checked by content, but downloaded under the citizen's name: a PDF sent as
    beslut.hta ran in mshta when a case worker on Windows opened it."""
    assert uploads.saved_name(sent_as, content_type) == saved_as
