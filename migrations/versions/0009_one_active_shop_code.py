"""at most one active plate code per shop: shop_codes.active and a unique index on
(shop_id, active); duplicates left by concurrent reissues are revoked first

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00

Before this revision two reissues of one plate at the same moment could each leave an active
code, so the old plate kept working. ``active`` is 1 while a code is active and NULL once it is
revoked (NULLs never collide in a unique index, on MariaDB and SQLite alike). A shop that has
several active codes keeps its newest one; the others are revoked as replaced by it.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REASON = "并发重新生成遗留的重复编号，已自动作废"

codes = sa.table(
    "shop_codes",
    sa.column("id", sa.Integer),
    sa.column("shop_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("revoked_at", sa.DateTime),
    sa.column("revoke_reason", sa.String),
    sa.column("replaced_by_id", sa.Integer),
    sa.column("active", sa.Boolean),
)


# Plain ALTER TABLE, not batch mode: on SQLite a batch copies the table, and dropping the old
# copy fails while reports and the codes themselves point at it (foreign keys are on). SQLite
# 3.35+ adds and drops a plain column in place.


def upgrade():
    op.add_column("shop_codes", sa.Column("active", sa.Boolean(), nullable=True))
    _revoke_duplicates()
    op.execute(codes.update().where(codes.c.status == "active").values(active=True))
    op.create_index(
        "uq_shop_codes_shop_id_active", "shop_codes", ["shop_id", "active"], unique=True
    )


def _revoke_duplicates():
    """Keep each shop's newest active code; revoke its other active codes as replaced by it."""
    conn = op.get_bind()
    newest = conn.execute(
        sa.select(codes.c.shop_id, sa.func.max(codes.c.id))
        .where(codes.c.status == "active")
        .group_by(codes.c.shop_id)
        .having(sa.func.count() > 1)
    ).all()
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC (app.db.UTCDateTime)
    for shop_id, keep in newest:
        conn.execute(
            codes.update()
            .where(codes.c.shop_id == shop_id, codes.c.status == "active", codes.c.id != keep)
            .values(status="revoked", revoked_at=now, revoke_reason=REASON, replaced_by_id=keep)
        )


def downgrade():
    op.drop_index("uq_shop_codes_shop_id_active", table_name="shop_codes")
    op.drop_column("shop_codes", "active")
