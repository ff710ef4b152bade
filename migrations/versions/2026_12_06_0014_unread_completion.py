"""A case answered by the citizen is marked until a case worker opens it

After a completion the case is back in progress, like every other case in progress: in the
inbox nothing told the case worker that the citizen had answered. The moment it came is
kept until a case worker opens the case or moves it on, and the inbox can list only those.

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
    # The inbox's filter for them: a few rows among a member's hundreds of thousands.
    op.create_index(
        "ix_cases_tenant_unread_completion",
        "cases",
        ["tenant_id", "submitted_at", "id"],
        postgresql_where=sa.text("unread_completion_at IS NOT NULL"),
        sqlite_where=sa.text("unread_completion_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_cases_tenant_unread_completion", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("unread_completion_at")
