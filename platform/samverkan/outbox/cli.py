"""`flask --app wsgi outbox run` delivers queued e-mail; `outbox status` shows the queue and
`outbox requeue` gives failed messages another round."""

import functools
import signal
import threading
from contextlib import contextmanager
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from samverkan.database_roles import maintenance_session
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.outbox.delivery import FIRST_RETRY, deliver_due, sender_address
from samverkan.outbox.models import FAILED, PENDING, SENT, OutboxMessage
from samverkan.outbox.transports import FileTransport, MailConfigError, transport_from_config
from samverkan.tenancy.models import Tenant

outbox_cli = AppGroup("outbox", help="E-mail waiting to go out.")


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM (what `make run` and service managers send) and SIGINT (Ctrl-C) end the
    worker after the message it is on, never half-way through one."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@outbox_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between looks for due mail (default: poll_seconds in [mail]).",
)
@click.option(
    "--retry-base",
    type=click.FloatRange(min=0.1),
    default=FIRST_RETRY.total_seconds(),
    show_default=True,
    envvar="OUTBOX_RETRY_BASE_SECONDS",
    show_envvar=True,
    help="Seconds to wait after the first refusal; each later wait doubles (capped at an "
    "hour). Shorter than a minute only for tests.",
)
def run(once: bool, interval: float | None, retry_base: float) -> None:
    """Deliver due e-mail, with retries and backoff; keeps running until stopped."""
    config = current_app.config
    sender = config["MAIL_FROM"]
    try:
        transport = transport_from_config(config)
        sender_address(sender)
    except (MailConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if isinstance(transport, FileTransport) and config["ENV_NAME"] == "production":
        # Files would count citizens' receipts as sent while none reaches anyone.
        raise click.ClickException(
            "SAMVERKAN_ENV=production needs SMTP_HOST: without it mail is only written to "
            f"files in {config['MAIL_DIR']}"
        )
    interval = interval or float(config["OUTBOX_POLL_SECONDS"])
    stop = threading.Event()
    deliver = functools.partial(
        deliver_due,
        db.engine,
        transport,
        sender,
        should_stop=stop.is_set,
        first_retry=timedelta(seconds=retry_base),
    )
    with _stop_on_signals(stop):
        if once:
            click.echo(deliver().line())
            return
        click.echo(f"outbox: delivering to {transport.describe()}, every {interval:g} s")
        while not stop.is_set():
            try:
                report = deliver()
            except sa.exc.DBAPIError as exc:  # the database restarting: try again next round
                click.echo(f"outbox: database error, trying again: {exc.orig}", err=True)
            else:
                if report:
                    click.echo(report.line())
            stop.wait(interval)
    click.echo("outbox: stopped")


@outbox_cli.command("status")
def status() -> None:
    """Messages per status across all members, and how many are due now."""
    with maintenance_session() as session:  # the owner: counts across every member
        counts = dict(
            session.execute(
                sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
            ).all()
        )
        due = session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= utcnow())
        )
        failed = session.execute(
            sa.select(Tenant.slug, OutboxMessage.event_key, OutboxMessage.last_error)
            .join(Tenant, Tenant.id == OutboxMessage.tenant_id)
            .where(OutboxMessage.status == FAILED)
            .order_by(OutboxMessage.id.desc())
            .limit(20)
        ).all()
    click.echo(
        f"pending {counts.get(PENDING, 0)} (due now {due}), sent {counts.get(SENT, 0)}, "
        f"failed {counts.get(FAILED, 0)}"
    )
    for row in failed:  # the newest; `outbox requeue` sends them again
        click.echo(f"  failed  {row.slug}  {row.event_key}  {row.last_error}")


@outbox_cli.command("requeue")
def requeue() -> None:
    """Give every failed message a fresh round of attempts (after fixing what failed)."""
    with maintenance_session() as session:
        result = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=utcnow())
        )
        session.commit()
    click.echo(f"outbox: {result.rowcount} failed message(s) queued again")


def register(app: Flask) -> None:
    """Add the outbox commands to the app's CLI."""
    app.cli.add_command(outbox_cli)
