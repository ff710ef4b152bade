"""Submissions under load: gapless per-member series, one case per idempotency key,
attachments stored by content."""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import tiny_png

from samverkan.cases import operations
from samverkan.cases.models import Attachment, Case, CaseEvent, ReferenceCounter
from samverkan.catalogue.queries import form_for, get_enabled_service_or_404
from samverkan.clock import SWEDEN
from samverkan.extensions import db
from samverkan.settings import PROJECT_ROOT
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

ANSWERS = {
    "kind": "fraga",
    "area": "annat",
    "message": "Hur söker jag bygglov?",
    "want_reply": "no",
}


def series(app, slug: str) -> list[tuple[int, str]]:
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug=slug))
        bind_tenant(db.session, tenant.id)
        rows = db.session.execute(sa.select(Case.number, Case.reference).order_by(Case.number))
        return [tuple(row) for row in rows]


def assert_gapless(rows: list[tuple[int, str]], prefix: str, count: int) -> None:
    year = datetime.now(UTC).year
    assert [number for number, _ in rows] == list(range(1, count + 1))
    assert [reference for _, reference in rows] == [
        f"{prefix}-{year}-{n:06d}" for n in range(1, count + 1)
    ]


def test_fifty_concurrent_submissions_over_two_members_give_gapless_series(app):
    start = threading.Barrier(50)

    def submit(i: int) -> int:
        member = "arvika" if i % 2 else "kil"
        client = app.test_client()
        start.wait()
        response = client.post(
            f"/api/v1/tenants/{member}/services/synpunkter/submissions",
            json={**ANSWERS, "message": f"Fråga nummer {i}"},
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(submit, range(50)))
    assert codes == [201] * 50
    assert_gapless(series(app, "arvika"), "ARV", 25)
    assert_gapless(series(app, "kil"), "KIL", 25)


def test_concurrent_submissions_from_several_server_processes_stay_gapless(
    app, database_url, tmp_path
):
    """The same, over real HTTP into four gunicorn worker processes sharing the database."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)  # clients queue here until the workers accept: no waiting for start
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SAMVERKAN_INSTANCE": str(tmp_path),
        "SECRET_KEY": "test-secret-key",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "4",
            "-b",
            f"fd://{listener.fileno()}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        pass_fds=[listener.fileno()],
    )
    try:

        def submit(i: int) -> tuple[int, str]:
            member = "eda" if i % 2 else "hagfors"
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/tenants/{member}/services/synpunkter/submissions",
                data=json.dumps({**ANSWERS, "message": f"Fråga {i}"}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                return response.status, json.load(response)["reference"]

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(submit, range(50)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        listener.close()
    assert [code for code, _ in results] == [201] * 50
    assert len({reference for _, reference in results}) == 50
    assert_gapless(series(app, "eda"), "EDA", 25)
    assert_gapless(series(app, "hagfors"), "HAG", 25)


def test_racing_requests_with_one_idempotency_key_create_one_case(app):
    start = threading.Barrier(10)

    def submit(_: int) -> tuple[int, str]:
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/v1/tenants/arvika/services/synpunkter/submissions",
            json=ANSWERS,
            headers={"Idempotency-Key": "double-click-42"},
        )
        return response.status_code, response.get_json()["reference"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(submit, range(10)))
    assert Counter(code for code, _ in results) == {201: 10}
    assert len({reference for _, reference in results}) == 1
    assert len(series(app, "arvika")) == 1


def submit_in_arvika(app, **options) -> operations.Submission:
    """ANSWERS registered for Arvika's Synpunkter by operations.submit_case itself, as the
    API would (inside a request context, which the caller holds)."""
    tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
    bind_tenant(db.session, tenant.id)
    service = get_enabled_service_or_404("synpunkter")
    form = form_for(service)
    answers = form.validate_all(ANSWERS).answers
    root = Path(app.config["UPLOAD_ROOT"])
    return operations.submit_case(
        db.session, tenant, service, form, answers, channel="api", upload_root=root, **options
    )


def test_a_failed_submission_gives_its_number_back(app):
    """A transaction that rolls back after taking a number leaves no gap in the series."""
    with app.test_request_context("/arvika/"):
        submit_in_arvika(app)
        db.session.rollback()  # e.g. the request failed after the case was written
        submit_in_arvika(app)
        db.session.commit()
    assert_gapless(series(app, "arvika"), "ARV", 1)


def test_a_submissions_case_is_the_registered_row_made_only_when_asked_for(app):
    """The web form needs only the link token and reference; the Case is made a loaded
    row of the session the first time a caller asks for it, as the row was written."""
    with app.test_request_context("/arvika/"):
        submission = submit_in_arvika(app)
        assert submission.created
        # Neither its answers nor its link token (the case's private key) reach a log.
        assert ANSWERS["message"] not in repr(submission)
        assert submission.status_token not in repr(submission)
        if db.engine.dialect.name == "postgresql":  # SQLite's receipt is queued by the ORM
            assert not any(isinstance(obj, Case) for obj in db.session)  # none made yet
        db.session.commit()
        case = submission.case
        assert case is submission.case and case in db.session
        assert (case.reference, case.status_token) == (
            submission.reference,
            submission.status_token,
        )
        stored = db.session.execute(
            sa.select(Case.id, Case.status, Case.answers, Case.channel).where(
                Case.reference == submission.reference
            )
        ).one()
        assert stored == (case.id, case.status, case.answers, "api")
        assert case.closed_at is None  # a column not written: read from the row when asked
        db.session.rollback()


def test_a_submission_time_without_a_zone_is_refused_before_anything_is_written(app):
    """PostgreSQL's registering statement takes the time as it is given (direct_sql.py):
    a naive one would be read in the server's zone, so it is refused first."""
    with app.test_request_context("/arvika/"):
        with pytest.raises(ValueError, match="time zone"):
            submit_in_arvika(app, now=datetime(2026, 12, 4, 12, 0))
        db.session.rollback()
    assert series(app, "arvika") == []


def test_a_seven_digit_number_keeps_every_digit_in_the_reference(app):
    """The reference is written by SQL on PostgreSQL and by Python on SQLite: both pad to
    six digits and neither cuts a millionth case's number short."""
    with app.test_request_context("/arvika/"):
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant.id)
        year = datetime.now(UTC).astimezone(SWEDEN).year
        db.session.add(ReferenceCounter(tenant_id=tenant.id, year=year, last_number=999998))
        db.session.flush()
        made = [submit_in_arvika(app).case for _ in range(2)]
        assert [(c.number, c.reference) for c in made] == [
            (999999, f"ARV-{year}-999999"),
            (1000000, f"ARV-{year}-1000000"),
        ]
        stored = db.session.execute(
            sa.select(Case.reference, CaseEvent.kind).join(CaseEvent).where(Case.number > 999998)
        ).all()
        assert sorted(stored) == [
            (f"ARV-{year}-1000000", "submitted"),
            (f"ARV-{year}-999999", "submitted"),
        ]
        db.session.rollback()


def post_fault_step(client, read_csrf, photo: bytes, filename: str, location: str):
    """The first step of felanmalan, with a photo, as a browser posts it."""
    page = client.get("/arvika/e/felanmalan/steg/fel")
    return client.post(
        "/arvika/e/felanmalan/steg/fel",
        data={
            "csrf_token": read_csrf(page.text),
            "kind": "belysning",
            "description": "Lampan lyser inte.",
            "location": location,
            "photo": (io.BytesIO(photo), filename),
        },
        content_type="multipart/form-data",
    )


def test_uploaded_photo_is_stored_by_content_under_a_server_made_name(
    app, client, read_csrf, upload_root
):
    data = tiny_png()
    response = post_fault_step(
        client, read_csrf, data, "../../etc/passwd.png", "Storgatan vid biblioteket"
    )
    assert response.status_code == 303, response.text
    contact = client.get(response.headers["Location"])
    response = client.post(
        response.headers["Location"],
        data={"csrf_token": read_csrf(contact.text), "want_contact": "no"},
    )
    check = client.get(response.headers["Location"])
    assert "passwd.png" in check.text
    receipt = client.post("/arvika/e/felanmalan", data={"csrf_token": read_csrf(check.text)})
    assert receipt.status_code == 303
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant.id)
        attachment = db.session.scalar(sa.select(Attachment))
        assert attachment.filename == "passwd.png"
        assert attachment.content_type == "image/png"
        assert attachment.sha256 == hashlib.sha256(data).hexdigest()
        stored = upload_root / str(tenant.id) / attachment.storage_name
        assert stored.read_bytes() == data
        assert stored.stat().st_mode & 0o777 == 0o600  # a personal document: owner only
        assert "passwd" not in attachment.storage_name


def test_a_file_that_is_not_what_its_name_says_is_refused(client, read_csrf):
    response = post_fault_step(
        client, read_csrf, b"MZ\x90\x00 not an image", "photo.png", "Storgatan"
    )
    assert response.status_code == 422
    assert "Filen måste vara av typen JPEG eller PNG." in response.text


def test_same_idempotency_key_twice_gives_one_case(client, app):
    references = {
        client.post(
            "/api/v1/tenants/kil/services/synpunkter/submissions",
            json=ANSWERS,
            headers={"Idempotency-Key": "retry-1"},
        ).get_json()["reference"]
        for _ in range(2)
    }
    assert len(references) == 1
    assert len(series(app, "kil")) == 1


def test_an_answers_fingerprint_is_what_it_was_when_the_case_was_sent():
    """A replay compares its answers' fingerprint with the one stored with the first
    submission, maybe by an earlier version of the code: the digest of the same answers
    may never change. These were computed by the code of 2026-12-06 (6ef7ffa), a file as
    stored (its content hash) and as sent (its bytes)."""
    import tomllib

    from samverkan.catalogue.engine import ServiceForm
    from samverkan.catalogue.uploads import IncomingFile, StoredFile
    from samverkan.settings import PROJECT_ROOT

    definition = PROJECT_ROOT / "services" / "felanmalan" / "definition.toml"
    form = ServiceForm(tomllib.loads(definition.read_text()), {})
    answers = {
        "kind": "belysning",
        "description": "Gatlampan lyser inte, sedan en vecka – åtminstone.",
        "location": "Storgatan 12",
        "want_contact": "no",
    }
    stored = StoredFile("lampa.png", "abc123", "image/png", 68, "0" * 63 + "1")
    sent = IncomingFile("lampa.png", b"\x89PNG fake", "png")
    fingerprint = operations.answers_fingerprint
    assert fingerprint(form, answers) == (
        "86f6f4879eb174fdc4698d6676f015694ad834542ccc428061bf5332b124b1c7"
    )
    assert fingerprint(form, {**answers, "photo": stored}) == (
        "9cd1afb4eb006bd5a1715a8fd380610caf7cb70f5e9b2cb26171c162353f3c42"
    )
    assert fingerprint(form, {**answers, "photo": sent}) == (
        "83a360dbe13d32085f741e46fec6e26e8ce891b27bffb89a24472561edb44ed4"
    )
    # The order the answers come in does not matter.
    assert fingerprint(form, dict(reversed(answers.items()))) == fingerprint(form, answers)
