"""detection (issue 15): the detection algorithm catalogue (路长慧眼) and each detection a
device posts with an algorithm (a case's origin or a repeat within its cool-down)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "detection_algorithms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("cooldown_radius_m", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_detection_algorithms_category_id_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_algorithms")),
        sa.UniqueConstraint("code", name=op.f("uq_detection_algorithms_code")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "detection_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("algorithm_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lng", sa.Double(), nullable=True),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("is_repeat", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["algorithm_id"],
            ["detection_algorithms.id"],
            name=op.f("fk_detection_events_algorithm_id_detection_algorithms"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["ingest_devices.id"],
            name=op.f("fk_detection_events_device_id_ingest_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_detection_events_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_events")),
        sa.UniqueConstraint("device_id", "event_id", name="uq_detection_events_device_event"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    with op.batch_alter_table("detection_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_detection_events_cooldown",
            ["device_id", "algorithm_id", "is_repeat", "detected_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_detection_events_period", ["is_repeat", "detected_at", "algorithm_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_detection_events_report_id"), ["report_id"], unique=False
        )


def downgrade():
    # The tables take their indexes with them (MariaDB refuses to drop an index a foreign key
    # needs on its own).
    op.drop_table("detection_events")
    op.drop_table("detection_algorithms")
