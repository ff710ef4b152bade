"""Files sent with a citizen's completion: an attachment may belong to a history entry

A case waiting for the citizen often waits for a document (a certificate, a drawing). The
attachment keeps the entry it came with, by a composite key within the member and the
case (an attachment cannot name another case's entry). The answers' own files have none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # The application role's grants on both tables are for the whole table (0002).
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_case_events_tenant_id_case_id_id"), ["tenant_id", "case_id", "id"]
        )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_attachments_tenant_id_case_id_event_id_case_events"),
            "case_events",
            ["tenant_id", "case_id", "event_id"],
            ["tenant_id", "case_id", "id"],
        )


def downgrade():
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_attachments_tenant_id_case_id_event_id_case_events"),
            type_="foreignkey",
        )
        batch_op.drop_column("event_id")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_case_events_tenant_id_case_id_id"), type_="unique"
        )
