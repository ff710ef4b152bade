"""Command-line tasks: `flask --app wsgi sync`, `services check`, `tenants check`."""

import secrets
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError, validate
from werkzeug.security import check_password_hash

from samverkan.accounts import operations as account_operations
from samverkan.accounts import tokens
from samverkan.accounts.models import HUB_ROLES, ROLES, Membership
from samverkan.audit.operations import HUB_LOG, record
from samverkan.cases.models import Case, Draft
from samverkan.casework import operations as casework
from samverkan.catalogue.loader import load_definitions
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.database_roles import maintenance_session
from samverkan.outbox.addresses import deliverable
from samverkan.sync import SyncError, Versions, switch_problems, sync, versions_in
from samverkan.tenancy.loader import load_tenants
from samverkan.tenancy.models import Tenant


def _dirs() -> tuple[Path, Path]:
    return Path(current_app.config["TENANTS_DIR"]), Path(current_app.config["SERVICES_DIR"])


def _fail(errors: list[str], what: str) -> None:
    for line in errors:
        click.echo(f"error: {line}", err=True)
    raise click.ClickException(f"{len(errors)} error(s) in {what}; nothing was changed")


services_cli = AppGroup("services", help="The shared catalogue of e-service definitions.")
tenants_cli = AppGroup("tenants", help="The member files in tenants/.")


@services_cli.command("check")
def services_check() -> None:
    """Validate every definition in services/ and report each error with file and field."""
    _, services_dir = _dirs()
    _, definitions, errors = load_definitions(services_dir)
    if errors:
        _fail(errors, services_dir.name + "/")
    for slug, loaded in definitions.items():
        click.echo(f"ok  {slug} v{loaded.version}")


@services_cli.command("withdraw")
@click.argument("slug")
@click.argument("version", type=int)
def services_withdraw(slug: str, version: int) -> None:
    """Take back a version published by mistake, while nothing uses it: no member's switch,
    no case and no saved draft. Put services/ back first, or the next sync publishes it
    again."""
    with maintenance_session() as session:
        definition = session.scalar(
            sa.select(ServiceDefinition).filter_by(slug=slug, version=version)
        )
        if definition is None:
            raise click.ClickException(f"{slug} has no published version {version}")
        in_use = []
        for what, model in (
            ("member switch(es)", TenantService),
            ("case(s)", Case),
            ("saved draft(s)", Draft),
        ):
            count = session.scalar(
                sa.select(sa.func.count(model.definition_id)).where(
                    model.definition_id == definition.id
                )
            )
            if count:
                in_use.append(f"{count} {what}")
        if in_use:
            raise click.ClickException(
                f"{slug} v{version} is in use ({', '.join(in_use)}): it cannot be withdrawn. "
                "Members are moved off a version at /hub/e-tjanster; a version with cases "
                "stays, as they were submitted on it."
            )
        session.delete(definition)
        hub = session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))
        if hub is not None:
            record(
                session,
                "hub.version_withdrawn",
                "service",
                f"{slug} v{version}",
                {HUB_LOG: True},
                actor="cli",
                tenant_id=hub.id,
            )
        session.commit()
    click.echo(f"{slug} v{version} is withdrawn")


@tenants_cli.command("check")
def tenants_check() -> None:
    """Validate every member file in tenants/ against the definitions it switches on."""
    tenants_dir, services_dir = _dirs()
    _, definitions, errors = load_definitions(services_dir)
    tenants, tenant_errors = load_tenants(tenants_dir, definitions)
    errors += tenant_errors
    if not errors:
        newest = {slug: loaded.content for slug, loaded in definitions.items()}
        errors += switch_problems(tenants_dir.name, tenants, _versions_for_check(newest))
    if errors:
        _fail(errors, "tenants/ and services/")
    for slug, loaded in tenants.items():
        click.echo(f"ok  {slug} ({len(loaded.content['services'])} e-services)")


def _versions_for_check(newest: dict[str, dict]) -> Versions:
    """The versions the members are on, from the database; without one (not yet
    migrated, not reachable), every switch is checked as new, on the newest version."""
    try:
        with maintenance_session() as session:
            return versions_in(session, newest)
    except sa.exc.SQLAlchemyError:
        click.echo("note: no database to compare with; checked against the newest versions")
        return Versions({}, {slug: [content] for slug, content in newest.items()}, newest)


@click.command("sync")
@with_appcontext
def sync_command() -> None:
    """Write tenants/ and services/ into the database: all of it or, on any error, nothing."""
    tenants_dir, services_dir = _dirs()
    try:
        with maintenance_session() as session:  # the owner: it writes for every member
            report = sync(session, tenants_dir, services_dir)
            session.commit()
    except SyncError as exc:
        _fail(exc.errors, "tenants/ and services/")
    for line in report.lines():
        click.echo(line)
    click.echo(
        f"sync done: {len(report.created)} created, {len(report.updated)} updated, "
        f"{report.unchanged} unchanged"
    )


def register_commands(app: Flask) -> None:
    app.cli.add_command(services_cli)
    app.cli.add_command(tenants_cli)
    app.cli.add_command(sync_command)
    app.cli.add_command(users_cli)
    from samverkan.outbox import cli as outbox_cli

    outbox_cli.register(app)
    from samverkan.costs import cli as costs_cli

    costs_cli.register(app)
    from samverkan.retention import cli as retention_cli

    retention_cli.register(app)
    from samverkan.cases import cli as drafts_cli

    drafts_cli.register(app)


users_cli = AppGroup("users", help="Staff accounts.")


@users_cli.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="The member, e.g. arvika.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(sorted(ROLES) + sorted(HUB_ROLES)),
    help="The role at that member (hub_admin and contact_centre: at the hub only).",
)
@click.option("--name", default=None, help="The person's name (defaults to the e-mail).")
@click.option("--password", default=None, help="Leave out to be asked (or to generate one).")
@click.option("--generate-password", is_flag=True, help="Make a strong password and print it.")
@click.argument("email")
def users_create(tenant_slug, role, name, password, generate_password, email) -> None:
    """Create a staff account (or give an existing one a role at another member)."""
    if generate_password:
        password = secrets.token_urlsafe(15)
    with maintenance_session() as session:
        tenant = session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug))
        if tenant is None:
            raise click.ClickException(f"--tenant: there is no member '{tenant_slug}'")
        if role in HUB_ROLES and not tenant.is_hub:
            raise click.ClickException(f"--role: {role} is a role at the hub, not at {tenant_slug}")
        user = account_operations.find_user(session, email)
        if user is not None:
            _existing_account_may_take_a_role(user, password, generate_password)
        elif not _is_email(email):
            raise click.ClickException(
                f"{email!r} is not an e-mail address the platform can send to (ASCII before "
                "the @): nobody could sign in or get its mails"
            )
        try:
            if user is None:
                if password is None:
                    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
                user = account_operations.create_user(session, email, name or email, password)
            before = session.get(Membership, (tenant.id, user.id))
            before_role = before.role if before is not None else None
            account_operations.grant_membership(session, user, tenant.id, role)
        except account_operations.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        if before_role != role:
            # The most sensitive change there is (an administrator, the hub's rights): in the
            # member's own log, as the page's role changes are.
            record(
                session,
                "staff.role_granted",
                "user",
                user.email,
                # A role of the hub's is the hub's own log's, not its member's (Karlstad's).
                {"from": before_role, "to": role}
                | ({HUB_LOG: True} if {before_role, role} & set(HUB_ROLES) else {}),
                actor="cli",
                tenant_id=tenant.id,
            )
        session.commit()
        click.echo(f"{user.email} is {role} at {tenant.name}")
        if generate_password:
            click.echo(f"password: {password}")


def _is_email(text: str) -> bool:
    """A well-formed address the outbox can send to (a staff member's mails)."""
    try:
        validate.Email()(text)
    except ValidationError:
        return False
    return deliverable(text)


def _existing_account_may_take_a_role(user, password: str | None, generate: bool) -> None:
    """An account that exists keeps its password here (it is its owner's), and a
    deactivated one is not given a role it could not use: each said, not printed as done."""
    if not user.active:
        raise click.ClickException(
            f"{user.email} is deactivated: `flask --app wsgi users activate {user.email}` first"
        )
    if generate or (
        password is not None and not check_password_hash(user.password_hash or "", password)
    ):
        raise click.ClickException(
            f"{user.email} already has an account, whose password is not changed here: "
            "leave out --password and --generate-password to give it a role"
        )


@users_cli.command("token")
@click.option("--tenant", "tenant_slug", required=True, help="The member, e.g. arvika.")
@click.option("--label", default="Kommandoraden", help="What the token is for, e.g. Diariet.")
@click.argument("email")
def users_token(tenant_slug, label, email) -> None:
    """Make an API token for a staff member at one member and print it (shown only once)."""
    try:
        label = tokens.NewTokenSchema().load({"label": label})["label"]
    except ValidationError as exc:
        raise click.ClickException(f"--label: {exc.messages['label'][0]}") from exc
    with maintenance_session() as session:
        tenant = session.scalar(sa.select(Tenant).where(Tenant.slug == tenant_slug))
        if tenant is None:
            raise click.ClickException(f"--tenant: there is no member '{tenant_slug}'")
        user = account_operations.find_user(session, email)
        if user is None or not user.active:
            raise click.ClickException(f"there is no active account for {email}")
        try:
            _, secret = tokens.create(session, tenant.id, user, label, actor="cli")
        except tokens.TokenError as exc:
            raise click.ClickException(exc.message) from exc
        said = f"API token for {user.email} at {tenant.name} ({label}); it is shown only once:"
        session.commit()
    click.echo(said)
    click.echo(secret)


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email) -> None:
    """Stop an account from signing in anywhere: its sessions end at their next request and
    its API tokens stop working; the cases assigned to it go back to nobody. Its history
    (cases, notes, the audit log) stays."""
    with maintenance_session() as session:
        user = account_operations.find_user(session, email)
        if user is None:
            raise click.ClickException(f"there is no account for {email}")
        user.active = False
        account_operations.end_all_sessions(user)
        _log_in_each_member(session, user, "staff.deactivated")
        freed = casework.free_cases_of(session, user, actor="cli")
        session.commit()
    click.echo(f"{email} is deactivated; every session of theirs has ended")
    if freed:
        click.echo(f"{freed} case(s) assigned to them are assigned to nobody now")


@users_cli.command("activate")
@click.argument("email")
def users_activate(email) -> None:
    """Let a deactivated account sign in again, with the roles and password it had."""
    with maintenance_session() as session:
        user = account_operations.find_user(session, email)
        if user is None:
            raise click.ClickException(f"there is no account for {email}")
        user.active = True
        _log_in_each_member(session, user, "staff.activated")
        session.commit()
    click.echo(f"{email} can sign in again")


def _log_in_each_member(session, user, action: str) -> None:
    """An account change from the command line, in the log of every member it works at."""
    for membership in session.scalars(sa.select(Membership).where(Membership.user_id == user.id)):
        record(
            session,
            action,
            "user",
            user.email,
            {"role": membership.role} | ({HUB_LOG: True} if membership.role in HUB_ROLES else {}),
            actor="cli",
            tenant_id=membership.tenant_id,
        )


@users_cli.command("demo")
def users_demo() -> None:
    """One demo administrator and one case worker per member, with fresh passwords printed.
    For trying the platform out (DEMO=1 make run); never run it on real data."""
    with maintenance_session() as session:
        members = session.scalars(sa.select(Tenant).order_by(Tenant.slug)).all()
        lines = []
        for tenant in members:
            roles = [("tenant_admin", "admin"), ("case_worker", "handlaggare")]
            if tenant.is_hub:
                roles += [("hub_admin", "navet"), ("contact_centre", "kontaktcenter")]
            for role, prefix in roles:
                email = f"{prefix}@{tenant.slug}.demo.invalid"
                password = secrets.token_urlsafe(12)
                user = account_operations.find_user(session, email)
                if user is None:
                    name = f"{({**ROLES, **HUB_ROLES})[role]} (demo), {tenant.short_name}"
                    user = account_operations.create_user(session, email, name, password)
                else:
                    account_operations.set_password(user, password)
                account_operations.grant_membership(session, user, tenant.id, role)
                start = "/hub/" if role in HUB_ROLES else f"/{tenant.slug}/staff/"
                lines.append(f"{start}  {email}  {password}")
        session.commit()
    click.echo("Demo accounts (sign in at the address shown):")
    for line in lines:
        click.echo(f"  {line}")
