"""Change counters: committed writes of a topic's tables bump it once per transaction."""

from __future__ import annotations

from sqlalchemy import event

from app import changes
from app.extensions import db
from reports.models import Category
from shops import lookup
from shops.models import SHOPS_TOPIC, Industry
from tests.reports.conftest import load_categories


def counter() -> int:
    return changes.value(SHOPS_TOPIC)


def test_committed_writes_bump_the_topic_once_per_transaction(db_session):
    before = counter()
    db.session.add(Industry(code="florist", name="花店"))
    db.session.flush()
    db.session.add(Industry(code="bakery", name="面包店"))
    db.session.commit()
    assert counter() == before + 1
    florist = db.session.query(Industry).filter_by(code="florist").one()
    florist.name = "鲜花店"
    db.session.commit()
    assert counter() == before + 2


def test_rolled_back_and_unrelated_writes_do_not_count(db_session, make_department):
    before = counter()
    db.session.add(Industry(code="florist", name="花店"))
    db.session.flush()
    db.session.rollback()
    assert counter() == before
    florist = Industry(code="florist", name="花店")
    db.session.add(florist)
    db.session.commit()
    florist.name = florist.name  # no net change
    db.session.commit()
    assert counter() == before + 1
    make_department(code="SY-TEST", name="测试部门")
    db.session.commit()
    assert counter() == before + 1


def test_bulk_statements_touch_the_topic(db_session):
    before = counter()
    changes.touch(SHOPS_TOPIC)
    db.session.commit()
    assert counter() == before + 1


def test_a_category_edit_is_a_shop_topic_write(db_session):
    load_categories()
    db.session.commit()
    before = counter()
    category = db.session.query(Category).filter_by(code="SJ0604").one()
    category.shop_related = not category.shop_related
    db.session.commit()
    assert counter() == before + 1


def test_the_lookup_cache_asks_one_primary_key_read(app, db_session):
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with app.test_request_context():
            generation = lookup.PublicCache(10).watch.current(interval=0.0)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert generation == 1
    queries = [s for s in statements if not s.upper().startswith(("SAVEPOINT", "RELEASE"))]
    assert len(queries) == 1 and "change_counters" in queries[0]
