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

import threading

import sqlalchemy as sa
from psycopg.rows import namedtuple_row

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
        lost = connection.dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(
            sql,
            params,
            error,
            connection.dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=connection.dialect,
        ) from error
    return cursor
