"""Open311 GeoReport v2 clients (api keys) and service requests

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade():
    # reports.channel gains "open311": a string column (native_enum=False), no DDL needed.
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_hint", sa.String(length=16), nullable=False),
        sa.Column("rate_limit", sa.String(length=32), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("key_issued_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff_users.id"],
                                name=op.f("fk_open311_clients_created_by_id_staff_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_clients_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_clients_name")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "open311_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("media_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["open311_clients.id"],
                                name=op.f("fk_open311_requests_client_id_open311_clients")),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"],
                                name=op.f("fk_open311_requests_report_id_reports"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("report_id", name=op.f("uq_open311_requests_report_id")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_requests_token")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_requests_client_id"), ["client_id"],
                              unique=False)


def downgrade():
    # Each table's indexes go with it (MariaDB refuses to drop one a foreign key needs).
    op.drop_table("open311_requests")
    op.drop_table("open311_clients")
