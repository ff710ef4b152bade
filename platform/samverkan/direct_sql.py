"""The busiest statements on PostgreSQL, run on the driver's cursor instead of through
SQLAlchemy's execution.

SQLAlchemy's execution of a statement costs a worker about 100–150 µs of CPU on top of
the driver's own (the compiled-statement cache, the execution context, the result's
metadata and rows); a web submission runs four statements, and the member's setting for
row-level security comes before every transaction. These few statements are still written
in Core (cases/statements.py and here) and compiled once per dialect; only their
execution is direct. Errors go through SQLAlchemy's own handling, so the 503 page, the
pool (a lost connection and those held before it thrown away) and the callers' `except`
clauses see no difference (tests/test_direct_sql.py).

Parameters must be what the driver takes as it is: JSON as text (the statements cast
it), time-zone aware datetimes. Rows come back as named tuples, read at once (fetch_one,
fetch_all): each pooled connection keeps one cursor for them, and the statement's SQL is
kept as the bytes the driver sends, not encoded again for each execution. The cursor
reads plain tuples and each statement's named tuple class is made once: psycopg's
namedtuple_row looks the result's column names and the connection's encoding up again on
every execution, about 2 % of a web submission's CPU in-process (py-spy).
"""

import re
import threading
from collections import namedtuple
from typing import NoReturn

import sqlalchemy as sa
from psycopg import errors, pq
from psycopg.rows import tuple_row

_SETTING = re.compile(r"[a-z_]+\.[a-z_]+")  # app.tenant_id: written into the SQL
_DIGEST = re.compile(r"[0-9a-f]{1,128}")  # a setting's value that is not an integer
_compiled: dict = {}
_compiling = threading.Lock()


def _sql(statement: sa.Executable, dialect) -> tuple[bytes, dict]:
    """The statement's SQL for this dialect, as the bytes the driver sends, and the values
    of its literals (the bind parameters Core made for constants); the caller gives every
    other one. Every value is a parameter, so the SQL is ASCII: the same bytes in any
    client encoding (and a statement that is not fails on its first use, in the tests)."""
    key = (statement, dialect.name)
    found = _compiled.get(key)
    if found is None:
        with _compiling:
            compiled = statement.compile(dialect=dialect)
            literals = {
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required
            }
            found = _compiled[key] = (compiled.string.encode("ascii"), literals)
    return found


def fetch_one(connection: sa.Connection, statement: sa.Executable, params: dict):
    """Run `statement` on the connection's driver cursor in its transaction (begun by the
    driver as SQLAlchemy's would be): its first row as a named tuple, or None."""
    cursor, sql = _execute(connection, statement, params)
    row = cursor.fetchone()
    return None if row is None else _row_type(cursor, sql)._make(row)


def fetch_all(connection: sa.Connection, statement: sa.Executable, params: dict) -> list:
    """As fetch_one, every row."""
    cursor, sql = _execute(connection, statement, params)
    rows = cursor.fetchall()
    if not rows:
        return rows
    make = _row_type(cursor, sql)._make
    return [make(row) for row in rows]


# Each statement's row class, by its SQL: the same SQL always returns the same columns.
_row_types: dict[bytes, type] = {}


def _row_type(cursor, sql: bytes) -> type:
    found = _row_types.get(sql)
    if found is None:
        # Named as psycopg's namedtuple_row names them; a name that is no identifier
        # (none of these statements has one) becomes _0, _1, … instead of psycopg's mangling.
        names = [column.name for column in cursor.description]
        found = _row_types[sql] = namedtuple("Row", names, rename=True)
    return found


def run(connection: sa.Connection, statement: sa.Executable, params: dict) -> None:
    """As fetch_one, for a statement whose rows are not wanted."""
    _execute(connection, statement, params)


# The cursor a pooled connection keeps in its info, for the rows read at once above:
# making one copies the driver's adapters, a few per cent of a web submission's database
# work. A new driver connection (after a reconnect) gets a new one.
_CURSOR = "samverkan.direct_sql.cursor"


def _execute(connection: sa.Connection, statement: sa.Executable, params: dict):
    sql, literals = _sql(statement, connection.dialect)
    fairy = connection.connection  # the pooled connection; raises once invalidated
    cursor = None
    try:
        driver = fairy.driver_connection
        cursor = fairy.info.get(_CURSOR)
        if cursor is None or cursor.connection is not driver or cursor.closed:
            cursor = fairy.info[_CURSOR] = driver.cursor(row_factory=tuple_row)
        cursor.execute(sql, {**literals, **params} if literals else params)
    except connection.dialect.loaded_dbapi.Error as error:
        _raise_as_sqlalchemy(connection, error, sql.decode(), params, cursor)
    return cursor, sql


def begin_with_setting(connection: sa.Connection, name: str, value: int) -> bool:
    """begin_with_settings with one setting."""
    return begin_with_settings(connection, {name: value})


def begin_with_settings(connection: sa.Connection, settings: dict[str, int | str]) -> bool:
    """BEGIN and transaction-local settings in one round trip, on a connection whose
    transaction the driver has not begun yet: psycopg sends its BEGIN alone before the
    first statement, and every member's transaction starts with the member's setting.
    Sent on the libpq connection (psycopg's documented way to what it does not wrap);
    psycopg then finds the transaction begun and carries on in it. Each value is an
    integer or a hexadecimal digest (setting_text), so nothing from outside is written
    into the SQL. False, having sent nothing, when the transaction has begun or the
    driver would begin it otherwise than plainly (an isolation level, read-only)."""
    calls = ", ".join(
        f"set_config('{_setting_name(name)}', '{setting_text(value)}', true)"
        for name, value in settings.items()
    )
    driver = connection.connection.driver_connection
    plain = driver.isolation_level is None and driver.read_only is None
    if driver.autocommit or not plain or driver.deferrable is not None:
        return False
    if driver.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    _exec_on_libpq(connection, f"BEGIN; SELECT {calls}", pq.ExecStatus.TUPLES_OK)
    return True


def _setting_name(name: str) -> str:
    if not _SETTING.fullmatch(name):
        raise ValueError(f"not a setting's name: {name!r}")
    return name


def setting_text(value: int | str) -> str:
    """A setting's value as written into SQL: an integer, or a hexadecimal digest (a
    person key, a sign-in's digest); anything else is refused."""
    if isinstance(value, bool):
        raise TypeError("a setting is an integer or a digest, not a truth value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return value
    raise TypeError(f"a setting is an integer or a hexadecimal digest, not {value!r}")


def rollback_keeping_prepared(connection: sa.Connection) -> None:
    """End the connection's transaction with a ROLLBACK sent on the libpq connection, so
    psycopg keeps the statements it has prepared; SQLAlchemy's own rollback afterwards
    finds no transaction and sends nothing. psycopg's rollback deallocates every prepared
    statement (DEALLOCATE ALL, a round trip of its own) and restarts its counts, in case
    the transaction dropped or altered what they name; a request's transaction never does
    (no DDL runs in a request), and every request that only reads ends with a rollback,
    so a worker's statements were parsed and planned afresh on nearly every request.
    Nothing is sent when no transaction is open."""
    driver = connection.connection.driver_connection
    if driver.pgconn.transaction_status in (
        pq.TransactionStatus.INTRANS,
        pq.TransactionStatus.INERROR,
    ):
        _exec_on_libpq(connection, "ROLLBACK", pq.ExecStatus.COMMAND_OK)


def _exec_on_libpq(connection: sa.Connection, command: str, expected) -> None:
    """`command` (nothing from outside in it) on the libpq connection; a failure raised
    as psycopg's own error would be, then handled as SQLAlchemy handles it."""
    driver = connection.connection.driver_connection
    try:
        result = driver.pgconn.exec_(command.encode())
        if result.status != expected:
            if driver.pgconn.status == pq.ConnStatus.BAD:  # lost: as psycopg's own say it
                message = result.error_message.decode(driver.info.encoding, "replace")
                raise errors.OperationalError(message.strip() or "the connection is lost")
            raise errors.error_from_result(result, encoding=driver.info.encoding)
    except connection.dialect.loaded_dbapi.Error as error:
        _raise_as_sqlalchemy(connection, error, command, {}, None)


def _raise_as_sqlalchemy(connection, error, sql: str, params: dict, cursor) -> NoReturn:
    """The driver's error handled by SQLAlchemy's own handler, as if it had run the
    statement: raised as its error class (parameters hidden as the engine says), its
    handle_error listeners run, and on a lost connection this one and every connection the
    pool held before it are thrown away. The handler is a private method of Connection,
    called from inside the `except` (it reads the exception being handled); the tests
    pin what it does (tests/test_direct_sql.py)."""
    connection._handle_dbapi_exception(error, sql, params, cursor, None)
