"""The busiest statements on PostgreSQL, run on the driver's cursor instead of through
SQLAlchemy's execution.

SQLAlchemy's execution of a statement costs a worker about 100–150 µs of CPU on top of
the driver's own (the compiled-statement cache, the execution context, the result's
metadata and rows); a web submission runs four statements, and the member's setting for
row-level security comes before every transaction. These few statements are still written
in Core (cases/statements.py and here) and compiled once per dialect; only their
execution is direct. Errors come out as SQLAlchemy's, a lost connection invalidated as
SQLAlchemy would, so the 503 page, the pool and the callers' `except` clauses see no
difference (tests/test_direct_sql.py).

Parameters must be what the driver takes as it is: JSON as text (the statements cast
it), time-zone aware datetimes. Rows come back as named tuples.
"""

import re
import threading

import sqlalchemy as sa
from psycopg import errors, pq
from psycopg.rows import namedtuple_row

_SETTING = re.compile(r"[a-z_]+\.[a-z_]+")  # app.tenant_id: written into the SQL
_compiled: dict = {}
_compiling = threading.Lock()


def _sql(statement: sa.Executable, dialect) -> tuple[str, dict]:
    """The statement's SQL for this dialect and the values of its literals (the bind
    parameters Core made for constants); the caller gives every other one."""
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
            found = _compiled[key] = (compiled.string, literals)
    return found


def execute(connection: sa.Connection, statement: sa.Executable, params: dict):
    """Run `statement` on the connection's driver cursor in its transaction (begun by the
    driver as SQLAlchemy's would be); returns the cursor, rows as named tuples."""
    sql, literals = _sql(statement, connection.dialect)
    fairy = connection.connection  # the pooled connection; raises once invalidated
    cursor = None
    try:
        cursor = fairy.driver_connection.cursor(row_factory=namedtuple_row)
        cursor.execute(sql, {**literals, **params} if literals else params)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemys(connection, error, sql, params, cursor) from error
    return cursor


def begin_with_setting(connection: sa.Connection, name: str, value: int) -> bool:
    """BEGIN and a transaction-local setting in one round trip, on a connection whose
    transaction the driver has not begun yet: psycopg sends its BEGIN alone before the
    first statement, and every member's transaction starts with the member's setting.
    Sent on the libpq connection (psycopg's documented way to what it does not wrap);
    psycopg then finds the transaction begun and carries on in it. The value is an
    integer, so nothing from outside is written into the SQL. False, having sent nothing,
    when the transaction has begun or the driver would begin it otherwise than plainly
    (an isolation level, read-only)."""
    if not _SETTING.fullmatch(name):
        raise ValueError(f"not a setting's name: {name!r}")
    driver = connection.connection.driver_connection
    plain = driver.isolation_level is None and driver.read_only is None
    if driver.autocommit or not plain or driver.deferrable is not None:
        return False
    if driver.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    command = f"BEGIN; SELECT set_config('{name}', '{int(value)}', true)"
    try:
        result = driver.pgconn.exec_(command.encode())
        if result.status != pq.ExecStatus.TUPLES_OK:
            if driver.pgconn.status == pq.ConnStatus.BAD:  # lost: as psycopg's own say it
                message = result.error_message.decode(driver.info.encoding, "replace")
                raise errors.OperationalError(message.strip() or "the connection is lost")
            raise errors.error_from_result(result, encoding=driver.info.encoding)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemys(connection, error, command, {}, None) from error
    return True


def _as_sqlalchemys(connection, error, sql: str, params: dict, cursor) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy would raise it, the connection invalidated (thrown
    away by the pool) when it was lost."""
    fairy = connection.connection
    lost = connection.dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    return sa.exc.DBAPIError.instance(
        sql,
        params,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=lost,
        dialect=connection.dialect,
    )
