"""wechat_mp_nonces: the (timestamp, nonce) pairs the public-account callback accepted, so a
captured signed query string cannot be replayed with another body

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00

Used when Redis is not configured or does not answer; rows expire with the callback's timestamp
window (WECHAT_MP_MAX_SKEW_SECONDS) and are deleted by the callback itself.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wechat_mp_nonces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_mp_nonces")),
        sa.UniqueConstraint(
            "app_id",
            "timestamp",
            "nonce",
            name=op.f("uq_wechat_mp_nonces_app_id_timestamp_nonce"),
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("wechat_mp_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wechat_mp_nonces_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("wechat_mp_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_mp_nonces_expires_at"))
    op.drop_table("wechat_mp_nonces")
