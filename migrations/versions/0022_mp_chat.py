"""mp_chats: a report assembled in the public account's chat (text, photos, location), one row
per conversation, filed by `flask worker`

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

STATES = ("describing", "photos", "ready", "submitting", "done", "failed", "cancelled",
          "expired")


def upgrade():
    op.create_table(
        "mp_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("state", sa.Enum(*STATES, name="chatstate", native_enum=False, length=16),
                  nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lng", sa.Double(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"],
                                name=op.f("fk_mp_chats_report_id_reports"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_mp_chats_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mp_chats")),
        sa.UniqueConstraint("open_key", name=op.f("uq_mp_chats_open_key")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("mp_chats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mp_chats_openid"), ["openid"], unique=False)
        batch_op.create_index("ix_mp_chats_state_next_attempt_at", ["state", "next_attempt_at"],
                              unique=False)


def downgrade():
    op.drop_table("mp_chats")
