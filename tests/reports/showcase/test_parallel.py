"""Double taps and retries, for real: N requests at once against a database whose transactions
really commit (a migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL), one
database for the module. A post retried with one key makes one post; likes and reports by one
citizen make one row each; likes by many citizens at once are all counted; never a 5xx."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Role, User, WechatApp
from app.extensions import db
from app.media import service as media_service
from reports.showcase import service
from reports.showcase.models import (
    PostState,
    ShowcaseFlag,
    ShowcaseLike,
    ShowcasePhoto,
    ShowcasePost,
)
from tests.conftest import REAL_SESSION, committed_app, scratch_database
from tests.reports.conftest import jpeg_bytes
from tests.reports.showcase.conftest import POSTS

N = 8


@dataclass
class Live:
    app: object
    tokens: dict[str, str]
    post_id: int
    author_id: int

    def call(self, method: str, path: str, who: str, **kwargs):
        headers = kwargs.pop("headers", {}) | {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.app.test_client().open(path, method=method, headers=headers, **kwargs)

    def parallel(self, calls: list[tuple]) -> tuple[Counter, list]:
        with ThreadPoolExecutor(len(calls)) as pool:
            results = list(
                pool.map(lambda c: self.call(*c[:3], **(c[3] if len(c) > 3 else {})), calls)
            )
        return Counter(r.status_code for r in results), results

    def count(self, model, *where) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """An app on its own committed database: an author, N fans, a reviewer, one shown post."""
    tmp = tmp_path_factory.mktemp("showcase-live")
    with scratch_database(tmp, "showcase") as url:
        app = committed_app(url, tmp)
        with app.app_context():
            mini = app.config["WECHAT_MINI_APP_ID"]
            people = {
                name: auth_service.citizen_from_wechat(
                    WechatApp.MINIPROGRAM, mini, f"o-live-{name}"
                )[0]
                for name in ["author", *(f"fan{i}" for i in range(N))]
            }
            reviewer = auth_service.create_staff(
                "live_reviewer", "live-password-0", [Role.REVIEWER.value], actor_label="test"
            )
            photo = media_service.store_upload(jpeg_bytes(), people["author"])
            post = ShowcasePost(
                author=people["author"], text="路口礼让行人", state=PostState.PENDING
            )
            db.session.add(post)
            db.session.flush()
            post.photos = [ShowcasePhoto(media=photo, position=0)]
            service.approve(reviewer, post)
            tokens = {name: auth_service.issue_token(user=u)[0] for name, u in people.items()}
            db.session.commit()
            live = Live(app, tokens, post.id, people["author"].id)
            db.session.remove()
        try:
            yield live
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(autouse=True)
def real_session(db_session, monkeypatch):
    """The live app commits for real: the app's session, not the suite's rolled-back one."""
    monkeypatch.setattr(db, "session", REAL_SESSION)


def test_n_parallel_posts_with_one_key_make_one_post(live):
    with live.app.app_context():
        author = db.session.get(User, live.author_id)
        photo = media_service.store_upload(jpeg_bytes((30, 160, 90)), author).public_id
        db.session.commit()
    body = {"text": "公交站台的市民有序排队", "photos": [photo]}
    statuses, results = live.parallel(
        [("POST", POSTS, "author", {"json": body, "headers": {"Idempotency-Key": "tap-1"}})] * N
    )
    assert statuses == {201: 1, 200: N - 1}, [(r.status_code, r.get_json()) for r in results]
    assert len({r.get_json()["id"] for r in results}) == 1
    assert (
        live.count(
            ShowcasePost,
            ShowcasePost.author_id == live.author_id,
            ShowcasePost.idempotency_key.is_not(None),
        )
        == 1
    )


def test_n_parallel_likes_by_one_citizen_make_one_like(live):
    url = f"{POSTS}/{live.post_id}/like"
    statuses, results = live.parallel([("POST", url, "fan0")] * N)
    assert statuses == {200: N}, [r.get_json() for r in results]
    assert live.count(ShowcaseLike, ShowcaseLike.post_id == live.post_id) == 1
    statuses, _ = live.parallel([("DELETE", url, "fan0")] * N)
    assert statuses == {200: N}
    with live.app.app_context():
        assert db.session.get(ShowcasePost, live.post_id).like_count == 0


def test_likes_of_many_citizens_at_once_are_all_counted(live):
    url = f"{POSTS}/{live.post_id}/like"
    statuses, results = live.parallel([("POST", url, f"fan{i}") for i in range(N)])
    assert statuses == {200: N}, [r.get_json() for r in results]
    assert live.count(ShowcaseLike, ShowcaseLike.post_id == live.post_id) == N
    with live.app.app_context():
        assert db.session.get(ShowcasePost, live.post_id).like_count == N


def test_n_parallel_reports_by_one_citizen_make_one(live):
    url = f"{POSTS}/{live.post_id}/flags"
    statuses, results = live.parallel([("POST", url, "fan1", {"json": {"reason": "fake"}})] * N)
    assert statuses == {201: 1, 200: N - 1}, [r.get_json() for r in results]
    assert live.count(ShowcaseFlag, ShowcaseFlag.post_id == live.post_id) == 1
