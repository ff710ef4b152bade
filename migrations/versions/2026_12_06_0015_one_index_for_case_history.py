"""A case's history is read through one index, not two

Migration 0013 made (tenant_id, case_id, id) unique on case_events, for the files sent
with an entry. Its index begins with the columns of ix_case_events_tenant_case, so that
one served no query the new one does not, and every history entry written (a web
submission writes one) kept both up to date.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:40:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_case_events_tenant_case", table_name="case_events")


def downgrade():
    op.create_index("ix_case_events_tenant_case", "case_events", ["tenant_id", "case_id"])
