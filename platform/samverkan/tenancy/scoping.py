"""Binding a tenant to the database session, and the ORM criteria that fail closed.

Every SELECT, UPDATE and DELETE that touches a TenantScoped entity gets
`tenant_id = <bound tenant>` added. With no tenant bound the statement raises instead
of quietly returning every municipality's rows. Code that must read across members
(the sync, hub statistics) says so with the named execution option ALL_TENANTS.

One more binding reads across members without it: a signed-in citizen's own cases
(identity/own_cases.py). With a person bound and no member, only SELECTs of cases run,
each limited to `person_key = <bound person>`; anything else still raises.
"""

import contextlib
import functools
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event, orm
from sqlalchemy.sql import visitors

from samverkan import direct_sql
from samverkan.db import Base, TenantScoped

TENANT_KEY = "samverkan.tenant_id"
PERSON_KEY = "samverkan.person_key"
# Row-level security's other settings (migration 0011), which no ORM criteria read: the
# signed-in staff user (who may see their own account) and the citizen's e-ID sign-in (the
# one sign-in row this browser may see). Each transaction is told them with its BEGIN.
SETTINGS_KEY = "samverkan.settings"
USER_SETTING = "app.user_id"
SIGN_IN_SETTING = "app.citizen_session"
INVITATION_SETTING = "app.invitation"  # the digest of the invitation being accepted
PERSON_SETTING = "app.person_key"  # bind_person's, for the own_cases_of_person policy
PERSON_TABLES = frozenset({"cases"})  # what a bound person may read without a member
ALL_TENANTS = "samverkan_all_tenants"
CONNECTED = "samverkan_connected_transaction"  # the root transaction that has a connection
MEMBER_OPTION = "samverkan_member"  # the member a member_transaction's connection is for


class TenantNotBound(RuntimeError):
    """A tenant-scoped query ran with no tenant bound: a bug, never a user error."""


def bind_tenant(session: orm.Session, tenant_id: int) -> None:
    if isinstance(session, orm.scoped_session):
        session = session()
    session.info[TENANT_KEY] = tenant_id
    # A transaction that already talks to the database is told now; one that has not yet
    # (or none) is told when it first does (after_begin below), so binding costs no trip.
    if transaction_with_connection(session) is not None:
        _tell_database(session.connection(), tenant_id)


def unbind_tenant(session: orm.Session) -> None:
    """No member bound any more (after a path that bound several in turn)."""
    if isinstance(session, orm.scoped_session):
        session = session()
    session.info.pop(TENANT_KEY, None)
    if transaction_with_connection(session) is not None:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT set_config('app.tenant_id', '', true)"))


def bind_person(session: orm.Session, person_key: str) -> None:
    """Let this session read one signed-in person's cases in every member, and no other
    member data (unless a member is bound too, which then decides as usual)."""
    if isinstance(session, orm.scoped_session):
        session = session()
    session.info[PERSON_KEY] = person_key
    # PostgreSQL's own_cases_of_person policy (migration 0009) reads it there.
    bind_setting(session, PERSON_SETTING, person_key)


def bind_setting(session: orm.Session, name: str, value: int | str | None) -> None:
    """Tell PostgreSQL's policies `name` (the *_SETTING names above) for every transaction
    of this session, now and after each commit; None takes it back."""
    if isinstance(session, orm.scoped_session):
        session = session()
    settings = session.info.setdefault(SETTINGS_KEY, {})
    if settings.get(name) == value:
        return
    if value is None:
        settings.pop(name, None)
    else:
        direct_sql.setting_text(value)  # refused here, not at the next BEGIN
        settings[name] = value
    if transaction_with_connection(session) is not None:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            text = "" if value is None else direct_sql.setting_text(value)
            direct_sql.run(connection, _SET_ONE, {"name": name, "value": text})


def tenant_connection(session: orm.Session | sa.Connection) -> tuple[sa.Connection, int]:
    """The session's connection and its bound member, for the few statements written in
    Core (cases/statements.py), which must name `tenant_id` themselves: the criteria
    below reach only the ORM. Refuses, as the criteria do, when no member is bound. Given
    a member_transaction's connection instead: that connection and its member."""
    if isinstance(session, sa.Connection):
        tenant_id = session.get_execution_options().get(MEMBER_OPTION)
        if tenant_id is None:
            raise TenantNotBound("a member's statement ran on a connection for no member")
        return session, tenant_id
    if isinstance(session, orm.scoped_session):
        session = session()
    tenant_id = bound_tenant_id(session)
    if tenant_id is None or session.info.get(ALL_TENANTS):
        raise TenantNotBound("a member's statement ran without a bound member")
    return session.connection(), tenant_id


@contextlib.contextmanager
def member_transaction(engine: sa.Engine, tenant_id: int) -> Iterator[sa.Connection]:
    """A connection in a transaction of its own for one member on PostgreSQL, told the
    member as each session's transaction is (after_begin), so row-level security holds;
    for a request whose database work is all Core statements given this connection
    (tenant_connection), with no ORM session: a web submission, where beginning and
    closing the session's transaction (its unit of work, events and identity map) was
    about 5 % of the request's CPU in-process (tests/bench/RESULTS.md). The caller
    commits; leaving the block otherwise rolls back."""
    if engine.dialect.name != "postgresql":
        raise ValueError("a member's own transaction is for PostgreSQL, where RLS holds it")
    with engine.connect() as connection:
        connection.execution_options(**{MEMBER_OPTION: tenant_id})
        connection.begin()
        _tell_database(connection, tenant_id)
        yield connection
        # Left without a commit (nothing to submit): ended as a request's session is.
        direct_sql.rollback_keeping_prepared(connection)


def transaction_with_connection(session: orm.Session):
    root = session.get_transaction()
    return root if root is not None and session.info.get(CONNECTED) is root else None


# `true`: local to the transaction, so a pooled connection never keeps it.
_SET_ONE = sa.select(sa.func.set_config(sa.bindparam("name"), sa.bindparam("value"), True))


def _tell_database(connection, tenant_id: int | None, others: dict | None = None) -> None:
    """On PostgreSQL the row-level-security policies read the member (and `others`,
    bind_setting's) from the transaction. Before every member's transaction, so with its
    BEGIN in one round trip when the transaction is new, else on the driver's cursor
    (direct_sql.py)."""
    if connection.dialect.name != "postgresql":
        return
    settings = {} if tenant_id is None else {"app.tenant_id": tenant_id}
    settings.update(others or {})
    if not settings or direct_sql.begin_with_settings(connection, settings):
        return
    for name, value in settings.items():
        direct_sql.run(
            connection, _SET_ONE, {"name": name, "value": direct_sql.setting_text(value)}
        )


@event.listens_for(orm.Session, "after_begin")
def _tenant_for_each_transaction(session, transaction, connection) -> None:
    if transaction.nested:
        return  # a savepoint is inside a transaction the setting was made for already
    session.info[CONNECTED] = transaction
    _tell_database(connection, bound_tenant_id(session), session.info.get(SETTINGS_KEY))


def bound_tenant_id(session: orm.Session) -> int | None:
    return session.info.get(TENANT_KEY)


def allow_all_tenants(session: orm.Session) -> None:
    """Let this session read and write any member's rows (CLI sync and maintenance only)."""
    session.info[ALL_TENANTS] = True


def _tenant_tables(state: orm.ORMExecuteState) -> tuple[set, set]:
    """The tenant tables a statement reads or changes, and those of them it names through
    their ORM entity or its attributes (which the criteria below reach, in subqueries too).

    all_mappers alone misses `select(func.count()).select_from(Model)`, so the whole
    statement is walked.
    """
    tenant_tables = _all_tenant_tables()
    covered = {m.local_table for m in state.all_mappers if m.local_table in tenant_tables}
    found = set(covered)
    for element in visitors.iterate(state.statement):
        entity = getattr(element, "_annotations", {}).get("parententity")
        if entity is not None and entity.mapper.local_table in tenant_tables:
            covered.add(entity.mapper.local_table)
        table = getattr(element, "table", None) if isinstance(element, sa.Column) else element
        if isinstance(table, sa.Alias):
            table = table.element
        if isinstance(table, sa.Table):
            table = table._deannotate()
            if table in tenant_tables:
                found.add(table)
    return found, covered


@functools.cache
def _all_tenant_tables() -> frozenset:
    """Every table of a TenantScoped model (asked first when every model is imported)."""
    return frozenset(
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    )


@event.listens_for(orm.Session, "do_orm_execute")
def _add_tenant_criteria(state: orm.ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_TENANTS) or state.session.info.get(ALL_TENANTS):
        return
    if state.is_column_load:
        return
    statement = state.statement
    walked = _walked.get(statement)
    if walked is None:
        walked = _remember(_walked, statement, tuple(map(frozenset, _tenant_tables(state))))
    touched, covered = walked
    if not touched:
        return
    tenant_id = bound_tenant_id(state.session)
    if tenant_id is None:
        person_key = state.session.info.get(PERSON_KEY)
        if person_key is None:
            raise TenantNotBound("a tenant-scoped query ran without a bound tenant")
        _limit_to_person(state, touched, covered, person_key)
        return
    if touched - covered:
        # A tenant table named as a bare Table: the criteria cannot reach it, so refuse.
        names = ", ".join(sorted(t.name for t in touched - covered))
        raise TenantNotBound(f"query {names} through the ORM entity so the member is applied")
    scoped = _scoped.get((statement, tenant_id))
    if scoped is None:
        scoped = statement.options(
            orm.with_loader_criteria(
                TenantScoped,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
            )
        )
        _remember(_scoped, (statement, tenant_id), scoped)
    state.statement = scoped


# A statement made once (a module's constant) comes back on every request: the tables it
# touches, and the statement with a member's criteria (whose cache key SQLAlchemy then
# computes once), are kept for it, keyed by the statement object itself. A statement made
# anew for each request only passes through; the memory is emptied when full.
_MEMORY = 512
_walked: dict = {}
_scoped: dict = {}


def _remember(memory: dict, key, value):
    if len(memory) >= _MEMORY:
        memory.clear()
    memory[key] = value
    return value


def _limit_to_person(state: orm.ORMExecuteState, touched: set, covered: set, person_key) -> None:
    """A bound person (and no member): SELECTs of their own cases, nothing else."""
    names = {table.name for table in touched}
    if not state.is_select or touched != covered or not names <= PERSON_TABLES:
        raise TenantNotBound(
            f"a signed-in person may only read their own cases, not {', '.join(sorted(names))}"
        )
    for table in touched:
        entity = _entity_of(table)
        state.statement = state.statement.options(
            orm.with_loader_criteria(
                entity, lambda cls: cls.person_key == person_key, include_aliases=True
            )
        )


def _entity_of(table: sa.Table):
    return next(m.class_ for m in Base.registry.mappers if m.local_table is table)


@event.listens_for(orm.Session, "before_flush")
def _stamp_tenant(session: orm.Session, flush_context, instances) -> None:
    """New rows get the bound tenant; a row for another tenant is refused."""
    if session.info.get(ALL_TENANTS):
        return
    tenant_id = bound_tenant_id(session)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantNotBound(f"writing {type(obj).__name__} without a bound tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantNotBound(
                f"{type(obj).__name__} belongs to tenant {obj.tenant_id}, "
                f"but tenant {tenant_id} is bound"
            )
