"""`flask --app wsgi retention run [--dry-run] [--member SLUG]`: thin the closed cases whose
retention period has passed, and say which, per member and e-service."""

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.retention.periods import MEMBER
from samverkan.retention.run import MemberOutcome, ServiceOutcome, run_retention
from samverkan.tenancy.each_member import refuse_unknown_member

retention_cli = AppGroup("retention", help="Retention (gallring) of closed cases.")


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Show what would be thinned; change nothing.")
@click.option("--member", default=None, metavar="SLUG", help="Only this member, e.g. arvika.")
def run(dry_run: bool, member: str | None) -> None:
    """Thin every closed case whose member's retention period has passed: the answers,
    messages, notes, attachments and e-mails go; the reference, dates and status stay. Each
    thinned case is logged in the member's audit log. Open cases are never touched."""
    refuse_unknown_member(db.engine, member)
    outcomes = run_retention(
        db.engine,  # the application's role: row-level security holds it to each member
        Path(current_app.config["UPLOAD_ROOT"]),
        now=utcnow(),
        dry_run=dry_run,
        member=member,
    )
    verb = "would thin" if dry_run else "thinned"
    for outcome in outcomes:
        for service in outcome.services:
            click.echo(f"{outcome.slug}  {service.service_slug}  {_describe(service, verb)}")
        for problem in outcome.file_errors:
            click.echo(f"{outcome.slug}  file not deleted, delete it by hand: {problem}", err=True)
        if outcome.error:
            click.echo(
                f"{outcome.slug}  error, nothing of its batch was kept: {outcome.error}", err=True
            )
    click.echo(_summary(outcomes, verb, dry_run))
    failed = [o.slug for o in outcomes if o.error or o.file_errors]
    if failed:
        raise click.ClickException(f"retention failed at {', '.join(failed)}; see above")


def _describe(service: ServiceOutcome, verb: str) -> str:
    period = service.period
    if not period.is_set:
        return f"no retention period set: {service.kept} closed case(s) kept"
    rule = "member default" if period.source == MEMBER else "e-service"
    parts = [f"{period.months} months ({rule}):"]
    if service.thinned:
        parts.append(f"{verb} {len(service.thinned)}: {', '.join(service.thinned)};")
    if service.postponed:
        parts.append(
            f"postponed {len(service.postponed)} (e-mail still queued): "
            f"{', '.join(service.postponed)};"
        )
    parts.append(f"{service.kept} closed case(s) not yet due")
    return " ".join(parts)


def _summary(outcomes: list[MemberOutcome], verb: str, dry_run: bool) -> str:
    count = sum(o.thinned for o in outcomes)
    members = sum(1 for o in outcomes if o.thinned)
    line = f"retention: {verb} {count} case(s) at {members} member(s)"
    return line + (" (dry run: nothing was changed)" if dry_run else "")


def register(app: Flask) -> None:
    app.cli.add_command(retention_cli)
