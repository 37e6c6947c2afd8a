"""Project consultations (问需/问计/问效): projects, phases, questions, answers, votes, proposals, comments

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 08:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade():
    op.create_table(
        "consultation_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "pocket_park",
                "back_alley",
                "cityscape",
                "greening",
                "facility",
                "other",
                name="projectkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lng", sa.Double(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft", "published", "closed", name="projectstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("result_note", sa.Text(), nullable=True),
        sa.Column("result_published_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_consultation_projects_created_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_consultation_projects_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_consultation_projects_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_projects")),
        sa.UniqueConstraint("code", name=op.f("uq_consultation_projects_code")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("consultation_projects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_projects_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_projects_district_code"), ["district_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_projects_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            "ix_consultation_projects_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "consultation_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "needs", "proposals", "outcome", name="phasekind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("intro", sa.Text(), nullable=True),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("allow_comments", sa.Boolean(), nullable=False),
        sa.Column("allow_proposals", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["consultation_projects.id"],
            name=op.f("fk_consultation_phases_project_id_consultation_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_phases")),
        sa.UniqueConstraint(
            "project_id", "kind", name=op.f("uq_consultation_phases_project_id_kind")
        ),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "consultation_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_consultation_photos_media_id_media"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["consultation_projects.id"],
            name=op.f("fk_consultation_photos_project_id_consultation_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_photos")),
        sa.UniqueConstraint(
            "project_id", "media_id", name=op.f("uq_consultation_photos_project_id_media_id")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("consultation_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_photos_media_id"), ["media_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_photos_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "consultation_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("comment", "proposal", name="commentkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="commentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("moderated_by_id", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["moderated_by_id"],
            ["staff_users.id"],
            name=op.f("fk_consultation_comments_moderated_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["consultation_phases.id"],
            name=op.f("fk_consultation_comments_phase_id_consultation_phases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["consultation_projects.id"],
            name=op.f("fk_consultation_comments_project_id_consultation_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_consultation_comments_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_comments")),
        sa.UniqueConstraint(
            "user_id",
            "idempotency_key",
            name=op.f("uq_consultation_comments_user_id_idempotency_key"),
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("consultation_comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consultation_comments_phase_status", ["phase_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_comments_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            "ix_consultation_comments_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_comments_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "consultation_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["phase_id"],
            ["consultation_phases.id"],
            name=op.f("fk_consultation_responses_phase_id_consultation_phases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_consultation_responses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_responses")),
        sa.UniqueConstraint(
            "phase_id", "user_id", name=op.f("uq_consultation_responses_phase_id_user_id")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("consultation_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_responses_user_id"), ["user_id"], unique=False
        )


def downgrade():
    # Each table's indexes go with it (MariaDB refuses to drop one a foreign key needs).
    op.drop_table("consultation_responses")
    op.drop_table("consultation_comments")
    op.drop_table("consultation_photos")
    op.drop_table("consultation_phases")
    op.drop_table("consultation_projects")
