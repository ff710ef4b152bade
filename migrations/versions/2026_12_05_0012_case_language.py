"""The language a case was sent in, so that what the platform writes to the citizen about
it later (a status change, a message) is in that language too

Null for cases sent before: what language they were sent in was not recorded, and their
mails stay Swedish as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 23:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # The application role's grants on cases are for the whole table (0002): nothing to add.
    op.add_column("cases", sa.Column("language", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("language")
