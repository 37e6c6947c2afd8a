"""reports.attention, attention_note, reopen_count: a returned, reopened or re-dispatched case
waits flagged at the top of its queue with the reason; ix_timeline_entries_action_created counts
steps of one kind (reopens, re-dispatches) over a period

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "attention",
                sa.Enum(
                    "returned",
                    "reopened",
                    "redispatched",
                    name="attention",
                    native_enum=False,
                    length=16,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("attention_note", sa.String(length=500), nullable=True))
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_entries_action_created", ["action", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_entries_action_created")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("attention_note")
        batch_op.drop_column("attention")
        batch_op.drop_column("reopen_count")
