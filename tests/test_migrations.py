"""The migrations build the schema the models describe, on SQLite and PostgreSQL alike:
a column, key or index added to a model without its migration (or the other way round)
would otherwise show only on a database migrated in production."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from samverkan.extensions import db


def test_the_migrated_database_is_what_the_models_say(app):
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
