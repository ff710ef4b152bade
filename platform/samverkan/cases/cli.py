"""`flask --app wsgi drafts expire [--dry-run] [--member SLUG]`: delete the citizens'
saved drafts whose member's draft lifetime has passed, and the files uploaded into them."""

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from samverkan.cases.expiry import expire_drafts
from samverkan.database_roles import maintenance_session
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.identity.operations import purge_ended
from samverkan.tenancy.each_member import refuse_unknown_member

drafts_cli = AppGroup("drafts", help="Citizens' saved drafts (not cases).")


@drafts_cli.command("expire")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; change nothing.")
@click.option("--member", default=None, metavar="SLUG", help="Only this member, e.g. arvika.")
def expire(dry_run: bool, member: str | None) -> None:
    """Delete every draft past its expiry (the member's draft_days after it was started)
    and the files uploaded into it, and (for every member) the e-ID sign-ins that have
    ended. Cases are never touched. Safe to run again."""
    refuse_unknown_member(db.engine, member)
    outcomes = expire_drafts(
        db.engine,  # the application's role: row-level security holds it to each member
        Path(current_app.config["UPLOAD_ROOT"]),
        now=utcnow(),
        dry_run=dry_run,
        member=member,
    )
    verb = "would delete" if dry_run else "deleted"
    for outcome in outcomes:
        if outcome.deleted or outcome.files:
            click.echo(
                f"{outcome.slug}  {verb} {outcome.deleted} draft(s), {outcome.files} file(s)"
            )
        for problem in outcome.file_errors:
            click.echo(f"{outcome.slug}  file not deleted, delete it by hand: {problem}", err=True)
        if outcome.error:
            click.echo(f"{outcome.slug}  error, nothing was deleted: {outcome.error}", err=True)
    drafts = sum(o.deleted for o in outcomes)
    files = sum(o.files for o in outcomes)
    line = f"drafts: {verb} {drafts} expired draft(s) and {files} file(s)"
    click.echo(line + (" (dry run: nothing was changed)" if dry_run else ""))
    if member is None:  # sign-ins belong to no one member: the owner removes them
        with maintenance_session() as session:
            ended = purge_ended(session, utcnow(), dry_run=dry_run)
            if not dry_run:
                session.commit()
        click.echo(f"e-ID sign-ins: {verb} {ended} that had ended (their personnummer and name)")
    failed = [o.slug for o in outcomes if o.error or o.file_errors]
    if failed:
        raise click.ClickException(f"draft expiry failed at {', '.join(failed)}; see above")


def register(app: Flask) -> None:
    app.cli.add_command(drafts_cli)
