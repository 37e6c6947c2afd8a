"""smallads (issue 15): 牛皮癣 advertisers, captures, evidence, SMS templates and messages, log

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 14:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

STATE = sa.Enum(
    "new", "notified", "escalated", "closed", name="advertiserstate", native_enum=False, length=16
)
SMS_STATE = sa.Enum(
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    name="smsstate",
    native_enum=False,
    length=16,
)


def upgrade():
    op.create_table(
        "smallads_advertisers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=True),
        sa.Column("appeared_at", sa.DateTime(), nullable=True),
        sa.Column("cleaned_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("case_report_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_report_id"],
            ["reports.id"],
            name=op.f("fk_smallads_advertisers_case_report_id_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smallads_advertisers")),
        sa.UniqueConstraint("phone", name=op.f("uq_smallads_advertisers_phone")),
    )
    op.create_index(op.f("ix_smallads_advertisers_state"), "smallads_advertisers", ["state"])
    op.create_table(
        "smallads_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lng", sa.Double(), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("suggestions", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(120), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_smallads_captures_media_id_media")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_smallads_captures_staff_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_smallads_captures_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_smallads_captures_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smallads_captures")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_smallads_captures_idempotency_key")),
    )
    op.create_index(op.f("ix_smallads_captures_region_id"), "smallads_captures", ["region_id"])
    op.create_table(
        "smallads_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.Integer(), nullable=False),
        sa.Column("from_ocr", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["smallads_captures.id"],
            name=op.f("fk_smallads_evidence_capture_id_smallads_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["smallads_advertisers.id"],
            name=op.f("fk_smallads_evidence_advertiser_id_smallads_advertisers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smallads_evidence")),
        sa.UniqueConstraint(
            "capture_id",
            "advertiser_id",
            name=op.f("uq_smallads_evidence_capture_id_advertiser_id"),
        ),
    )
    op.create_index(
        op.f("ix_smallads_evidence_advertiser_id"), "smallads_evidence", ["advertiser_id"]
    )
    templates = op.create_table(
        "sms_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("template_code", sa.String(32), nullable=False),
        sa.Column("content", sa.String(500), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_sms_templates_key")),
    )
    op.create_table(
        "smallads_sms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("template_code", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", SMS_STATE, nullable=False),
        sa.Column("biz_id", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.String(300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("receipt_checked_at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("receipt_code", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["smallads_advertisers.id"],
            name=op.f("fk_smallads_sms_advertiser_id_smallads_advertisers"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_smallads_sms_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smallads_sms")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_smallads_sms_dedupe_key")),
    )
    op.create_index(op.f("ix_smallads_sms_advertiser_id"), "smallads_sms", ["advertiser_id"])
    op.create_index(op.f("ix_smallads_sms_state"), "smallads_sms", ["state"])
    op.create_table(
        "smallads_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advertiser_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advertiser_id"],
            ["smallads_advertisers.id"],
            name=op.f("fk_smallads_events_advertiser_id_smallads_advertisers"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_smallads_events_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smallads_events")),
    )
    op.create_index(op.f("ix_smallads_events_advertiser_id"), "smallads_events", ["advertiser_id"])
    # The templates as registered with the gateway (edit template_code to the approved ones).
    now = sa.func.now()
    op.execute(
        templates.insert().values(
            [
                {
                    "key": "smallads_notice",
                    "name": "小广告到案通知",
                    "template_code": "SMS_480150001",
                    "content": "您好，您的号码${phone}出现在非法张贴的小广告上。请于${deadline}前到${office}"
                    "接受处理并自行清理，逾期将依法立案查处。",
                    "is_active": True,
                    "updated_at": now,
                },
                {
                    "key": "smallads_reminder",
                    "name": "小广告到案催告",
                    "template_code": "SMS_480150002",
                    "content": "提醒：号码${phone}涉及的非法小广告尚未处理，请于${deadline}前到${office}"
                    "接受处理，逾期将依法立案查处。",
                    "is_active": True,
                    "updated_at": now,
                },
            ]
        )
    )


def downgrade():
    op.drop_table("smallads_events")
    op.drop_table("smallads_sms")
    op.drop_table("sms_templates")
    op.drop_table("smallads_evidence")
    op.drop_table("smallads_captures")
    op.drop_table("smallads_advertisers")
