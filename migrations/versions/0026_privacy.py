"""Privacy: public blurred copies of media, account erasure, retention purge log

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 08:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# Cases the public sees while they are worked on (reports.follows.PUBLIC_OPEN_STATES): their
# report photos get a public copy from the worker (media.public_state = 'pending').
OPEN_STATES = ("reported", "registered", "dispatched", "in_progress", "handled")


def upgrade():
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_state", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("public_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("redacted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("faces_found", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("plates_found", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_media_public_state"), ["public_state"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_reports_purge", ["purged_at", "state", "updated_at"],
                              unique=False)
    with op.batch_alter_table("littering_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
    op.create_table(
        "account_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_account_deletions_user_id_users"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_deletions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_account_deletions_idempotency_key")),
        sa.UniqueConstraint("user_id", name=op.f("uq_account_deletions_user_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    # Photos already public before this revision: the first report photos of open cases on the
    # map get their blurred copy from the worker, like new ones.
    op.execute(sa.text(
        "UPDATE media SET public_state = 'pending' WHERE public_state IS NULL AND id IN ("
        " SELECT p.media_id FROM report_photos p JOIN reports r ON r.id = p.report_id"
        " WHERE p.stage = 'report' AND r.lat IS NOT NULL AND r.state IN ("
        + ", ".join(f"'{s}'" for s in OPEN_STATES) + "))"
    ))  # fmt: skip


def downgrade():
    op.drop_table("account_deletions")
    with op.batch_alter_table("littering_reports", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_purge")
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_public_state"))
        batch_op.drop_column("plates_found")
        batch_op.drop_column("faces_found")
        batch_op.drop_column("redacted_at")
        batch_op.drop_column("public_key")
        batch_op.drop_column("public_state")
