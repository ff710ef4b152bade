"""`flask --app wsgi costs import FILE` loads a period's pools; `costs allocate --period 2026`
runs and stores the allocation and prints it as a table, CSV, JSON or an SIE 4 file; both
go through the hub's one audited path across members, as the actor "cli". `costs show RUN`
prints a stored run again, once it has checked that the run reproduces."""

import json
import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from samverkan.costs import importer, runs, statements
from samverkan.costs.models import AllocationRun
from samverkan.costs.sie import sie_for_run
from samverkan.database_roles import maintenance_session
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


def _output_options(command):
    """--format and --output, as allocate and show both take them."""
    command = click.option(
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="Write to this file instead of the terminal.",
    )(command)
    return click.option("--format", "output_format", type=click.Choice(FORMATS), default="table")(
        command
    )


@costs_cli.command("allocate")
@click.option("--period", required=True, help='A year ("2026") or a month ("2026-03").')
@_output_options
def costs_allocate(period: str, output_format: str, output: Path | None) -> None:
    """Allocate every pool of the period and store the run (it is never changed after), then
    print it. A period with problems prints each one and stores nothing."""
    try:
        runs.period_bounds(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    if output is not None:
        _can_write(output)  # before the run is stored: a stored run is never taken back
    logged = {"period": period}
    with across_members(
        "costs.allocated", f"costs/{period}", actor="cli", detail=logged, logged_at_commit=True
    ) as session:
        try:
            run = runs.run(session, period, created_by="cli")
        except runs.RunError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            raise click.ClickException(
                f"{len(exc.problems)} problem(s) in {period}; no allocation was stored"
            ) from exc
        body = _formatted(run, output_format, session)
        run_id = logged["run"] = run.id
        session.commit()
    _give(body, output, f"allocation {run_id} for {period} stored")


def _formatted(run, output_format: str, session) -> str | bytes:
    if output_format == "sie":
        return sie_for_run(run, hub_tenant(session), current_app.config)
    if output_format == "json":
        return json.dumps(statements.run_json(run), ensure_ascii=False, indent=2) + "\n"
    if output_format == "csv":
        return statements.run_csv(run)
    return render_table(run) + "\n"


def _give(body: str | bytes, output: Path | None, done: str) -> None:
    """`body` to `output`, or to the terminal; `done` says what was made."""
    if output is None:
        click.echo(body, nl=False)  # bytes (SIE, CP437) go to the binary stream as they are
        return
    try:
        if isinstance(body, str):
            output.write_text(body, encoding="utf-8", newline="")
        else:
            output.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(
            f"{done}, but {output} could not be written ({exc.strerror or exc}); the hub's "
            "cost pages and API have it"
        ) from exc
    click.echo(f"{done}; written to {output}", err=True)


@costs_cli.command("show")
@click.argument("run_id", type=int)
@_output_options
def costs_show(run_id: int, output_format: str, output: Path | None) -> None:
    """Print a stored run as it was made (the hub's cost pages list their numbers), after
    checking that its own inputs still give every share: a run is reproducible years
    later. Stores nothing; a run that does not reproduce is an error, and not printed."""
    if output is not None:
        _can_write(output)
    with maintenance_session() as session:
        run = session.get(AllocationRun, run_id)
        if run is None:
            raise click.BadParameter(f"there is no stored allocation {run_id}", param_hint="RUN_ID")
        problems = runs.differences(run)
        if problems:
            _fail(problems, f"allocation {run_id}")
        body = _formatted(run, output_format, session)
    _give(body, output, f"allocation {run_id} for {run.period} reproduced")


def register(app: Flask) -> None:
    app.cli.add_command(costs_cli)
