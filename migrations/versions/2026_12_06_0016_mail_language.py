"""The language a queued e-mail is written in, sent as its Content-Language

A citizen's mail reader (and a screen reader reading it aloud) then knows whether a
receipt is Swedish or English. Null for mails queued before: sent without the header, as
they were.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 11:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    # The application role's grants on outbox_messages are for the whole table: nothing to add.
    op.add_column("outbox_messages", sa.Column("language", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("language")
