"""Fault tests (`make faults`): the real processes on a real PostgreSQL server.

Nothing here uses tests/conftest.py's in-process app: its fixtures are lazy (none named
`app` is asked for), so they stay out of the way. One stack per session: a fresh database
on the server DATABASE_URL names (default postgresql://postgres@127.0.0.1:5432), gunicorn
with config/gunicorn.conf.py, the outbox worker, and a mail server in this process.
"""

import pytest
from aiosmtpd.controller import Controller
from fault_stack import MailServer, drop_database, free_port, make_stack, start, stop


@pytest.fixture(scope="session")
def mail_server():
    mail = MailServer()
    controller = Controller(mail, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mail, controller.port
    controller.stop()


@pytest.fixture(scope="session")
def stack(mail_server, tmp_path_factory):
    mail, port = mail_server
    stack = make_stack(tmp_path_factory.mktemp("faults"), mail, port)
    try:
        start(stack)
        yield stack
    finally:
        stop(stack)
        drop_database(stack)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing fault test shows what the server processes said."""
    report = yield
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and stack is not None:
        for name in ("gunicorn.log", "outbox.log"):
            report.sections.append((name, stack.log_tail(name, 60)))
    return report
