"""`flask --app wsgi costs import FILE` loads a period's pools; `costs allocate --period 2026`
runs and stores the allocation and prints it as a table, CSV, JSON or an SIE 4 file.
Both go through the hub's one audited path across members, as the actor "cli"."""

import json
import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from samverkan.costs import importer, runs, statements
from samverkan.costs.sie import sie_for_run
from samverkan.hub.across import across_members, hub_tenant

costs_cli = AppGroup("costs", help="Cost sharing between the members.")
FORMATS = ("table", "csv", "json", "sie")


def _fail(errors: list[str], what: str) -> None:
    for line in errors:
        click.echo(f"error: {line}", err=True)
    raise click.ClickException(f"{len(errors)} error(s) in {what}; nothing was changed")


@costs_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def costs_import(file: Path) -> None:
    """Load a period's cost pools from a TOML file (the format: README, "Cost sharing").
    All of it or, on any error, nothing; importing the same file again changes nothing."""
    try:
        costs_file = importer.read_file(file)
        with across_members(
            "costs.pools_changed",
            f"costs/{costs_file.period}",
            detail={"file": file.name, "pools": [plan.name for plan in costs_file.pools]},
            actor="cli",
        ) as session:
            report = importer.apply(session, costs_file)
            if report.changed:  # nothing changed: not even an audit entry
                session.commit()
    except importer.CostsFileError as exc:
        _fail(exc.errors, file.name)
    for line in report.lines():
        click.echo(line)
    click.echo(
        f"import of {costs_file.period} done: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
    )


def render_table(run) -> str:
    """The run for a terminal: each member's part of each pool, then each member's total."""
    rows = statements.run_table(run)
    head = ("Medlem", "Pool", "Andel", "Procent", "Belopp (kr)")
    body = [
        (r.tenant_name, r.pool_name, r.fraction, r.percentage, statements.amount_text(r.amount_ore))
        for r in rows
    ]
    totals = statements.member_totals(run)
    body += [("", "", "", "", "")] + [
        (t.tenant_name, "Summa", "", "", statements.amount_text(t.total_ore)) for t in totals
    ]
    body.append(("Alla", "Summa", "", "", statements.amount_text(sum(t.total_ore for t in totals))))
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells) -> str:
        left = [cell.ljust(width) for cell, width in zip(cells[:4], widths, strict=False)]
        return "  ".join([*left, cells[4].rjust(widths[4])]).rstrip()

    title = f"Kostnadsfördelning {statements.period_label(run.period)}, körning {run.id}"
    return "\n".join([title, "", line(head), line(["-" * w for w in widths]), *map(line, body)])


def _can_write(output: Path) -> None:
    folder = output.parent
    if not folder.is_dir():
        raise click.BadParameter(f"the folder {folder} does not exist", param_hint="--output")
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise click.BadParameter(f"{output} cannot be written here", param_hint="--output")


@costs_cli.command("allocate")
@click.option("--period", required=True, help='A year ("2026") or a month ("2026-03").')
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of the terminal.",
)
def costs_allocate(period: str, output_format: str, output: Path | None) -> None:
    """Allocate every pool of the period and store the run (it is never changed after), then
    print it. A period with problems prints each one and stores nothing."""
    try:
        runs.period_bounds(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    if output is not None:
        _can_write(output)  # before the run is stored: a stored run is never taken back
    with across_members("costs.allocated", f"costs/{period}", actor="cli") as session:
        try:
            run = runs.run(session, period, created_by="cli")
        except runs.RunError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            raise click.ClickException(
                f"{len(exc.problems)} problem(s) in {period}; no allocation was stored"
            ) from exc
        if output_format == "sie":
            body = sie_for_run(run, hub_tenant(session), current_app.config)
        elif output_format == "json":
            body = json.dumps(statements.run_json(run), ensure_ascii=False, indent=2) + "\n"
        elif output_format == "csv":
            body = statements.run_csv(run)
        else:
            body = render_table(run) + "\n"
        run_id = run.id
        session.commit()
    if output is not None:
        try:
            if isinstance(body, str):
                output.write_text(body, encoding="utf-8", newline="")
            else:
                output.write_bytes(body)
        except OSError as exc:
            raise click.ClickException(
                f"allocation {run_id} for {period} is stored, but {output} could not be "
                f"written ({exc.strerror or exc}); the hub's cost pages and API have it"
            ) from exc
        click.echo(f"allocation {run_id} for {period} stored; written to {output}", err=True)
        return
    click.echo(body, nl=False)  # bytes (SIE, CP437) go to the binary stream as they are


def register(app: Flask) -> None:
    app.cli.add_command(costs_cli)
