"""While citizens submit at once, the database is cut away, a web worker is killed and the
mail server refuses; afterwards every submission that got a 2xx exists exactly once, the
references are unique and gapless, every receipt was delivered exactly once, and what was
refused during the outage was a clear 503."""

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager

import pytest
import requests
from fault_load import Load
from fault_stack import MAIL_FROM, ensure_running, local_cluster

from samverkan.outbox.delivery import message_id

MEMBERS = ["arvika", "kil", "eda", "hammaro"]
API_CLIENTS = 4
WEB_CLIENTS = 2
REFUSED_DELIVERIES = 3
UNAVAILABLE_TITLE = "Tjänsten är tillfälligt otillgänglig"
ANSWERS_SEEN = {200, 201, 303, 503}
LEAKS = ("traceback", "sqlalchemy", "psycopg", 'file "')


@contextmanager
def citizens_submitting(stack):
    """Clients submitting until the block ends; what they got counts for every later check
    of the session's database, even when this test fails."""
    citizens = Load(stack.base_url, MEMBERS, api_clients=API_CLIENTS, web_clients=WEB_CLIENTS)
    try:
        with citizens:
            yield citizens
    finally:
        stack.completed.extend(citizens.completed)
        stack.abandoned.extend(citizens.abandoned)


def wait_until(condition, what: str, deadline_seconds: float = 60):
    deadline = time.monotonic() + deadline_seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


# -- the faults ----------------------------------------------------------------------------


def test_cutting_every_database_connection_while_citizens_submit(stack):
    stack.mail.refuse_next(REFUSED_DELIVERIES)
    cut_during_delivery = threading.Event()

    def cut_while_mail_is_taken():
        stack.terminate_app_connections()
        cut_during_delivery.set()

    with citizens_submitting(stack) as citizens:
        citizens.wait_for_more(15)
        for _ in range(3):
            assert stack.terminate_app_connections() > 0
            # The database itself answers: no server is to be taken out of rotation.
            assert requests.get(f"{stack.base_url}/readyz", timeout=30).status_code == 200
            citizens.wait_for_more(10)
        # The worst moment for the outbox worker: the mail server has the message and the
        # worker has not yet written that down.
        stack.mail.cut_before_next_reply(cut_while_mail_is_taken)
        wait_until(cut_during_delivery.is_set, "the cut during a delivery")
        citizens.wait_for_more(10)
    check_everything(stack, citizens, outage=True)


def test_killing_a_web_worker_while_citizens_submit(stack):
    stack.mail.refuse_next(REFUSED_DELIVERIES)
    with citizens_submitting(stack) as citizens:
        citizens.wait_for_more(15)
        for _ in range(2):
            workers = stack.web_workers()
            victim = workers[0]
            os.kill(victim, signal.SIGKILL)
            # The arbiter notices and starts another in its place.
            wait_until(
                lambda workers=workers, victim=victim: (
                    len(now := stack.web_workers()) == len(workers) and victim not in now
                ),
                "gunicorn to replace the killed worker",
            )
            citizens.wait_for_more(10)
    assert stack.gunicorn.poll() is None
    check_everything(stack, citizens, outage=False)


def test_restarting_postgresql_while_citizens_submit(stack):
    cluster, reason = local_cluster(stack.server)
    if cluster is None:
        pytest.skip(f"PostgreSQL is not restarted: {reason}")
    stack.mail.refuse_next(REFUSED_DELIVERIES)
    try:
        with citizens_submitting(stack) as citizens:
            citizens.wait_for_more(15)
            subprocess.run(cluster.command("restart"), check=True, capture_output=True, timeout=90)
            citizens.wait_for_more(20)
    finally:
        ensure_running(cluster, stack.server)
    check_everything(stack, citizens, outage=True)


# -- what must hold afterwards --------------------------------------------------------------


def check_everything(stack, citizens: Load, outage: bool) -> None:
    kinds = Counter(submission.kind for submission in citizens.completed)
    print(  # shown with -rP: what the run went through
        f"{kinds['api']} API and {kinds['web']} web submissions, {len(citizens.attempts)} "
        f"requests: {len(citizens.where(status=503))} answered 503, "
        f"{len(citizens.where(error=True))} without an answer"
    )
    check_answers(citizens, outage)
    check_cases(stack)
    check_mail(stack)
    assert stack.worker.poll() is None, "the outbox worker died:\n" + stack.log_tail("outbox.log")


def check_answers(citizens: Load, outage: bool) -> None:
    """Every answer was a success or a clear 503: no 500, no trace of the inside."""
    assert not citizens.errors, citizens.errors
    unexpected = [a for a in citizens.attempts if not a.error and a.status not in ANSWERS_SEEN]
    assert not unexpected, unexpected[:5]
    for attempt in citizens.attempts:
        assert not any(leak in attempt.body.lower() for leak in LEAKS), attempt
    unavailable = citizens.where(status=503)
    if outage:
        assert unavailable, "the outage was never felt: no request got a 503"
    for attempt in unavailable:
        assert attempt.retry_after and attempt.retry_after.isdigit(), attempt
        if attempt.kind == "api":
            assert attempt.content_type.startswith("application/json"), attempt
            problem = json.loads(attempt.body)
            assert problem["error"] == UNAVAILABLE_TITLE, problem
            assert "Idempotency-Key" in problem["message"], problem
        else:
            assert attempt.content_type.startswith("text/html"), attempt
            assert '<html lang="sv">' in attempt.body
            assert f"<h1>{UNAVAILABLE_TITLE}</h1>" in attempt.body, attempt.body[:2000]


def check_cases(stack) -> None:
    """Each 2xx is one case; references unique and gapless per member and year."""
    cases = stack.query(
        "SELECT t.slug, c.tenant_id, c.year, c.number, c.reference, c.idempotency_key, "
        "c.status_token FROM cases c JOIN tenants t ON t.id = c.tenant_id"
    )
    # A submission a client gave up on (only after a failure elsewhere) may be a case too.
    assert len(stack.completed) <= len(cases) <= len(stack.completed) + len(stack.abandoned), (
        f"{len(cases)} cases stored for {len(stack.completed)} submissions that got a 2xx"
    )
    by_key = Counter(key for *_, key, _ in cases)
    assert all(by_key[f"api:{key}"] <= 1 for kind, key in stack.abandoned if kind == "api")
    by_token = {token: (slug, reference) for slug, *_, reference, _, token in cases}
    for submission in stack.completed:
        if submission.kind == "api":
            assert by_key[f"api:{submission.key}"] == 1, submission
        assert by_token[submission.status_token or _token_of(cases, submission.key)] == (
            submission.member,
            submission.reference,
        ), submission
    assert len({reference for *_, reference, _, _ in cases}) == len(cases), "a reference twice"
    numbers = defaultdict(list)
    for _, tenant_id, year, number, *_ in cases:
        numbers[tenant_id, year].append(number)
    counters = {
        (tenant_id, year): last
        for tenant_id, year, last in stack.query(
            "SELECT tenant_id, year, last_number FROM reference_counters"
        )
    }
    assert set(counters) == set(numbers)
    for series, taken in numbers.items():
        assert sorted(taken) == list(range(1, counters[series] + 1)), f"gap in {series}"


def _token_of(cases, key: str) -> str:
    [token] = [token for *_, k, token in cases if k == f"api:{key}"]
    return token


def check_mail(stack) -> None:
    """Once the worker has caught up: one receipt per case, each delivered exactly once."""

    def caught_up():
        counts = dict(stack.query("SELECT status, count(*) FROM outbox_messages GROUP BY status"))
        assert not counts.get("failed"), stack.query(
            "SELECT event_key, attempts, last_error FROM outbox_messages WHERE status = 'failed'"
        )
        return not counts.get("pending")

    wait_until(caught_up, "the outbox worker to deliver every receipt", 90)
    assert stack.mail.refused == REFUSED_DELIVERIES
    messages = stack.query(
        "SELECT tenant_id, event_key, recipient, status, attempts FROM outbox_messages"
    )
    receipts = Counter(event_key for _, event_key, *_ in messages)
    references = [reference for (reference,) in stack.query("SELECT reference FROM cases")]
    for reference in references:  # every case here was given an address
        assert receipts[f"case:{reference}:received"] == 1, reference
    assert len(messages) == len(references)
    assert any(attempts > 1 for *_, attempts in messages), "no delivery was ever retried"
    delivered = Counter(message_id for message_id, _, _ in stack.mail.accepted)
    twice = [mid for mid, times in delivered.items() if times > 1]
    assert not twice, f"{len(twice)} e-mails delivered more than once"
    expected = {
        message_id(tenant_id, event_key, MAIL_FROM): (recipient,)
        for tenant_id, event_key, recipient, _, _ in messages
    }
    assert set(delivered) == set(expected), "an e-mail lost, or one nobody queued"
    for mid, recipients, _subject in stack.mail.accepted:
        assert recipients == expected[mid]
