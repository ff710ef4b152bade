"""A case answered by the citizen is marked until a case worker opens it

After a completion the case is back in progress, like every other case in progress: in the
inbox nothing told the case worker that the citizen had answered. The moment it came is
kept until a case worker opens the case or moves it on.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # The application role's grants on cases are for the whole table (0002): nothing to add.
    op.add_column("cases", sa.Column("unread_completion_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("unread_completion_at")
