"""the public account's passive reply kept with each inbound message (WeChat's retry gets the
same answer), and the tables of issue 15's public-account work: the custom menu as data
(wechat_mp_menus), keyword replies (wechat_mp_keywords), followers with their last message
(wechat_mp_followers: subscribe state and the 48-hour customer-service window), and the channel
each outbox notice went by (outbox.via: subscribe, template or custom)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("wechat_mp_messages") as batch:
        batch.add_column(sa.Column("reply", sa.Text(), nullable=True))
    op.create_table(
        "wechat_mp_menus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("pushed_at", sa.DateTime(), nullable=True),
        sa.Column("pushed_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_mp_menus")),
        sa.UniqueConstraint("app_id", name=op.f("uq_wechat_mp_menus_app_id")),
    )
    op.create_table(
        "wechat_mp_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=False),
        sa.Column("match", sa.String(length=8), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_mp_keywords")),
        sa.UniqueConstraint("keyword", name=op.f("uq_wechat_mp_keywords_keyword")),
    )
    op.create_table(
        "wechat_mp_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(), nullable=True),
        sa.Column("last_message_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_mp_followers")),
        sa.UniqueConstraint(
            "app_id", "openid", name=op.f("uq_wechat_mp_followers_app_id_openid")
        ),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("via", sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("via")
    op.drop_table("wechat_mp_followers")
    op.drop_table("wechat_mp_keywords")
    op.drop_table("wechat_mp_menus")
    with op.batch_alter_table("wechat_mp_messages") as batch:
        batch.drop_column("reply")
