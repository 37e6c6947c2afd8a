"""Demo 文明行为展示 posts: a few GENERATED ones (drawn with Pillow: bins, bicycles, a crossing,
a shop front; no people, no plates), shown, featured, liked, waiting, reported and refused, so
the gallery, the home page and the review console have something to show. The authors are demo
citizens with made-up nicknames."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import StaffUser, User, WechatApp
from app.db import utcnow
from app.extensions import db
from app.media import privacy
from app.media import service as media_service
from reports.showcase import queries, service
from reports.showcase.models import (
    FlagReason,
    PostState,
    ShowcaseFlag,
    ShowcaseLike,
    ShowcasePhoto,
    ShowcasePost,
)

W, H = 640, 480
SKY, PAVEMENT, GRASS = (186, 220, 245), (205, 200, 190), (120, 180, 90)
NICKNAMES = ("李阿姨", "小王同学", "张师傅", "热心市民老赵", "陈老师", "刘大爷")


def _canvas(ground: tuple[int, int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (W, H), SKY)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, H * 0.55, W, H), fill=ground)
    return img, draw


def bins() -> Image.Image:
    """Four sorting bins side by side (blue, green, grey, red), nothing spilled."""
    img, draw = _canvas(PAVEMENT)
    for i, colour in enumerate(((30, 90, 200), (40, 150, 70), (110, 110, 110), (200, 40, 40))):
        x = 90 + i * 120
        draw.rectangle((x, 200, x + 90, 380), fill=colour)
        draw.rectangle((x - 6, 190, x + 96, 210), fill=tuple(c // 2 for c in colour))
    return img


def bicycles() -> Image.Image:
    """Shared bicycles parked in a line inside the marked bay."""
    img, draw = _canvas(PAVEMENT)
    draw.rectangle((40, 300, 600, 430), outline=(255, 255, 255), width=5)
    for i in range(6):
        x = 80 + i * 88
        for dx in (0, 50):
            draw.ellipse((x + dx - 18, 370, x + dx + 18, 406), outline=(40, 40, 40), width=5)
        draw.line((x, 388, x + 25, 350, x + 50, 388), fill=(250, 190, 0), width=6)
    return img


def crossing() -> Image.Image:
    """A zebra crossing with a car waiting before the stop line."""
    img, draw = _canvas((90, 90, 95))
    for i in range(8):
        draw.rectangle((60 + i * 68, 300, 100 + i * 68, 460), fill=(245, 245, 245))
    draw.line((40, 290, 600, 290), fill=(245, 245, 245), width=6)
    draw.rounded_rectangle((230, 170, 410, 270), radius=24, fill=(40, 110, 190))
    for x in (260, 380):
        draw.ellipse((x - 20, 250, x + 20, 290), fill=(30, 30, 30))
    return img


def shopfront() -> Image.Image:
    """A shop front with a swept pavement and flower pots (门前三包)."""
    img, draw = _canvas(PAVEMENT)
    draw.rectangle((80, 60, 560, 265), fill=(235, 225, 200))
    draw.rectangle((110, 100, 300, 265), fill=(150, 200, 230))
    draw.rectangle((360, 120, 460, 265), fill=(140, 90, 60))
    draw.rectangle((80, 40, 560, 80), fill=(200, 50, 40))
    for x in (120, 220, 420, 520):
        draw.polygon(
            ((x - 25, 330), (x + 25, 330), (x + 18, 380), (x - 18, 380)), fill=(170, 90, 50)
        )
        draw.ellipse((x - 30, 280, x + 30, 335), fill=GRASS)
    return img


def park() -> Image.Image:
    """A park path with a bench and a clean litter bin."""
    img, draw = _canvas(GRASS)
    draw.polygon(((280, 264), (360, 264), (560, 480), (80, 480)), fill=(215, 200, 170))
    draw.ellipse((40, 120, 200, 280), fill=(60, 140, 60))
    draw.rectangle((110, 260, 130, 300), fill=(110, 70, 40))
    draw.rectangle((420, 300, 560, 320), fill=(140, 90, 50))
    draw.rectangle((430, 320, 440, 350), fill=(80, 80, 80))
    draw.rectangle((540, 320, 550, 350), fill=(80, 80, 80))
    draw.rectangle((250, 320, 290, 380), fill=(40, 150, 70))
    return img


def wall() -> Image.Image:
    """A wall cleaned of small ads, a bucket beside it."""
    img, draw = _canvas(PAVEMENT)
    draw.rectangle((0, 80, W, 265), fill=(225, 220, 210))
    draw.rectangle((260, 110, 420, 240), fill=(240, 238, 232))
    draw.rectangle((470, 300, 530, 370), fill=(30, 120, 200))
    return img


def _jpeg(draw: Callable[[], Image.Image]) -> bytes:
    buf = io.BytesIO()
    draw().save(buf, "JPEG", quality=82)
    return buf.getvalue()


# (days ago, author, picture(s), text, state, likes, featured); the district is the n-th.
DEMO_POSTS = (
    (
        1,
        0,
        (bins,),
        "小区垃圾分类投放点干净整洁，大家都按类别投放，给邻居们点赞！",
        PostState.APPROVED,
        6,
        True,
    ),
    (
        2,
        1,
        (bicycles,),
        "地铁口的共享单车都停进了白线框里，整整齐齐，出行方便多了。",
        PostState.APPROVED,
        4,
        True,
    ),
    (
        3,
        2,
        (crossing, crossing),
        "路口车辆主动停在斑马线前礼让行人，文明出行从我做起。",
        PostState.APPROVED,
        5,
        False,
    ),
    (
        5,
        3,
        (shopfront,),
        "这家小店门前三包做得好，每天清扫门前，还摆了花，街道更美了。",
        PostState.APPROVED,
        2,
        False,
    ),
    (
        8,
        4,
        (park,),
        "公园里的垃圾桶旁边干干净净，游客都把垃圾带走了。",
        PostState.APPROVED,
        1,
        False,
    ),
    (0, 5, (wall,), "楼道口墙上的小广告被社区志愿者清理干净了。", PostState.PENDING, 0, False),
    (4, 1, (park,), "周末公园环境很好，推荐大家来散步。", PostState.HIDDEN, 0, False),
    (6, 3, (wall,), "随手拍一张。", PostState.REFUSED, 0, False),
)


def _citizens() -> list[User]:
    app_id = current_app.config["WECHAT_MINI_APP_ID"]
    people = []
    for i, nickname in enumerate(NICKNAMES):
        user, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app_id, f"demo-showcase-{i + 1:02d}"
        )
        user.nickname = nickname
        people.append(user)
    return people


def seed_demo_showcase() -> int:
    """Seed once (skipped when any post exists); how many posts were made."""
    if db.session.scalar(select(ShowcasePost.id).limit(1)):
        return 0
    people = _citizens()
    reviewer = db.session.scalar(select(StaffUser).where(StaffUser.username == "reviewer"))
    codes = [d["code"] for d in queries.district_choices()] or [None]
    now = utcnow()
    for n, (days, author, pictures, text, state, likes, featured) in enumerate(DEMO_POSTS):
        when = now - timedelta(days=days, hours=n)
        post = ShowcasePost(
            author=people[author],
            text=text,
            state=state,
            created_at=when,
            district_code=codes[n % len(codes)],
        )
        post.photos = [
            ShowcasePhoto(media=media_service.store_upload(_jpeg(p), people[author]), position=i)
            for i, p in enumerate(pictures)
        ]
        db.session.add(post)
        db.session.flush()
        _decide(post, state, reviewer, when + timedelta(hours=2), featured)
        for liker in people[:likes]:
            db.session.add(ShowcaseLike(post_id=post.id, user_id=liker.id))
        post.like_count = likes
    db.session.flush()
    return len(DEMO_POSTS)


def _decide(
    post: ShowcasePost, state: PostState, reviewer: StaffUser | None, when, featured
) -> None:
    if state == PostState.PENDING:
        return
    post.reviewed_by_id, post.reviewed_at = getattr(reviewer, "id", None), when
    if state == PostState.APPROVED:
        for photo in post.photos:  # their public (blurred) copies, as an approval makes them
            privacy.publish(photo.media)
        post.published_at = when
        post.featured_at = when if featured else None
    elif state == PostState.REFUSED:
        post.reason = "照片与文明行为无关，请拍摄身边的文明行为后再发布"
    else:  # reported by three citizens: hidden until a reviewer decides
        post.published_at, post.reviewed_by_id, post.reviewed_at = when, None, None
        post.reason, post.flag_count = service.AUTO_HIDE_REASON, 3
        for user, reason in zip(
            _flaggers(post),
            (FlagReason.UNRELATED, FlagReason.UNRELATED, FlagReason.FAKE),
            strict=False,
        ):
            db.session.add(
                ShowcaseFlag(
                    post_id=post.id,
                    user=user,
                    reason=reason,
                    note="与文明行为无关" if reason == FlagReason.UNRELATED else None,
                )
            )


def _flaggers(post: ShowcasePost) -> list[User]:
    others = db.session.scalars(
        select(User).where(User.id != post.author_id, User.nickname.in_(NICKNAMES))
    )
    return list(others)[:3]
