"""Demo seed of project consultations (once): a pocket park in 铁西区 whose needs survey has ended
(with answers of demo citizens), whose design vote is open now and whose satisfaction survey comes
after completion; and a back alley in 和平区 asking for needs now."""

from __future__ import annotations

import io
import random
from datetime import timedelta

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import StaffUser, WechatApp, department_by_code
from app.db import utcnow
from app.extensions import db
from app.geo import regions
from app.media import privacy as media_privacy
from app.media import service as media_service
from reports.consultations import questions as qs
from reports.consultations.models import (
    CommentKind,
    CommentStatus,
    ConsultationComment,
    ConsultationPhase,
    ConsultationPhoto,
    ConsultationProject,
    ConsultationResponse,
    PhaseKind,
    ProjectKind,
    ProjectStatus,
)

SEED = 20261203
PARK_POINT = (41.7700, 123.3640)  # 铁西区 南滑翔路 (GCJ-02)
ALLEY_POINT = (41.7930, 123.4080)  # 和平区 太原街 (GCJ-02)
NEEDS = [
    {
        "kind": "multiple",
        "title": "您最希望口袋公园增加哪些设施？（最多选3项）",
        "options": ["休闲座椅", "儿童游乐设施", "健身器材", "夜间照明", "花草绿化", "公共厕所"],
        "max_choices": 3,
    },
    {
        "kind": "single",
        "title": "您一般什么时候来这里？",
        "options": ["早晨", "白天", "傍晚", "晚上"],
    },
    {"kind": "text", "title": "其他需求或建议", "required": False},
]
PROPOSALS = [
    {
        "kind": "single",
        "title": "您支持哪个设计方案？",
        "options": ["方案一：林荫休闲", "方案二：儿童乐园", "方案三：健身广场"],
    },
]
OUTCOME = [
    {"kind": "rating", "title": "您对改造后的口袋公园总体满意吗？"},
    {"kind": "rating", "title": "设施维护和环境卫生"},
    {"kind": "text", "title": "还有哪些需要改进？", "required": False},
]
ALLEY = [
    {
        "kind": "multiple",
        "title": "这条小巷最需要整治的是？",
        "options": ["路面破损", "乱堆乱放", "架空线缆", "照明不足", "违规停车"],
        "max_choices": 2,
    },
    {"kind": "rating", "title": "您对小巷目前环境的满意程度"},
]
COMMENTS = [
    (CommentKind.COMMENT, "希望多种些树，夏天能有树荫乘凉。", CommentStatus.APPROVED),
    (CommentKind.COMMENT, "老人多，座椅最好带靠背。", CommentStatus.APPROVED),
    (
        CommentKind.PROPOSAL,
        "建议在东侧入口加一段无障碍坡道，方便轮椅和婴儿车。",
        CommentStatus.APPROVED,
    ),
    (CommentKind.PROPOSAL, "可以设置一个宠物便便箱。", CommentStatus.PENDING),
]


def _square(lat: float, lng: float, d: float) -> dict:
    ring = [
        [lng - d, lat - d],
        [lng + d, lat - d],
        [lng + d, lat + d],
        [lng - d, lat + d],
        [lng - d, lat - d],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _photo(colour: str) -> bytes:
    """A plain drawing of a park: lawn, path and trees (no faces, no plates)."""
    img = Image.new("RGB", (800, 600), colour)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 380, 800, 600], fill="#7cb342")
    draw.polygon([(360, 600), (440, 600), (420, 380), (380, 380)], fill="#d7ccc8")
    for x in (120, 260, 560, 680):
        draw.ellipse([x - 50, 220, x + 50, 330], fill="#2e7d32")
        draw.rectangle([x - 8, 330, x + 8, 400], fill="#6d4c41")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _phase(kind: PhaseKind, days: tuple[int, int], items: list[dict], **flags) -> ConsultationPhase:
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    questions = qs.normalise_questions([{"required": True} | q for q in items])
    return ConsultationPhase(
        kind=kind,
        title=kind.label,
        opens_at=now + timedelta(days=days[0]),
        closes_at=now + timedelta(days=days[1]),
        questions=questions,
        allow_comments=flags.get("comments", True),
        allow_proposals=flags.get("proposals", False),
    )


def _project(
    kind: ProjectKind,
    name: str,
    text: str,
    address: str,
    point: tuple[float, float],
    department: str,
    phases: list[ConsultationPhase],
    staff,
) -> ConsultationProject:
    where = regions.where(*point)
    project = ConsultationProject(
        kind=kind,
        name=name,
        description=text,
        address=address,
        lat=point[0],
        lng=point[1],
        area=_square(*point, 0.0008) if kind == ProjectKind.POCKET_PARK else None,
        region_id=where.region.id if where.region else None,
        district_code=where.district.code if where.district else None,
        department=department_by_code(department) or department_by_code("SY"),
        status=ProjectStatus.PUBLISHED,
        created_by=staff,
        published_at=utcnow(),
        phases=phases,
    )
    db.session.add(project)
    return project


def seed_demo() -> None:
    """Once: the two demo projects, with answers, votes and comments on the pocket park."""
    if db.session.scalar(select(ConsultationProject.id).limit(1)) is not None:
        return
    admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    park = _project(
        ProjectKind.POCKET_PARK,
        "南滑翔路口袋公园改造",
        "利用南滑翔路9-2号楼南侧闲置空地建设口袋公园，约1200平方米。建什么、怎么建、建得好不好，"
        "请周边居民一起来定。",
        "铁西区南滑翔路9-2号楼南侧",
        PARK_POINT,
        "SY-210106-YL",
        [
            _phase(PhaseKind.NEEDS, (-40, -20), NEEDS),
            _phase(PhaseKind.PROPOSALS, (-5, 25), PROPOSALS, proposals=True),
            _phase(PhaseKind.OUTCOME, (120, 150), OUTCOME),
        ],
        admin,
    )
    _project(
        ProjectKind.BACK_ALLEY,
        "太原街北二马路背街小巷整治",
        "对太原街北二马路周边背街小巷的路面、线缆、照明和停车进行整治，先听听居民的意见。",
        "和平区太原街北二马路",
        ALLEY_POINT,
        "SY-210102",
        [_phase(PhaseKind.NEEDS, (-3, 27), ALLEY)],
        admin,
    )
    db.session.flush()
    media = media_service.store_upload(_photo("#bbdefb"), admin)
    park.photos.append(ConsultationPhoto(media=media, position=0))
    media_privacy.publish(media)
    _participation(park)


def _participation(park: ConsultationProject) -> None:
    """Demo citizens' answers in the needs survey, votes in the design vote, and comments."""
    rng = random.Random(SEED)
    app_id = current_app.config["WECHAT_MINI_APP_ID"]
    citizens = []
    for i in range(12):
        user, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app_id, f"demo-citizen-{i:03d}"
        )
        user.nickname = user.nickname or f"演示市民{i + 1}"
        citizens.append(user)
    needs, vote = park.phase(PhaseKind.NEEDS), park.phase(PhaseKind.PROPOSALS)
    for i, user in enumerate(citizens):
        at = needs.opens_at + timedelta(days=rng.randint(0, 19), hours=rng.randint(0, 12))
        answers = {"q1": sorted(rng.sample(range(6), rng.randint(1, 3))), "q2": rng.randint(0, 3)}
        db.session.add(
            ConsultationResponse(
                phase_id=needs.id, user_id=user.id, answers=answers, created_at=at, updated_at=at
            )
        )
        if i % 2 == 0:
            at = vote.opens_at + timedelta(hours=rng.randint(1, 100))
            db.session.add(
                ConsultationResponse(
                    phase_id=vote.id,
                    user_id=user.id,
                    answers={"q1": rng.choice([0, 0, 1, 2])},
                    created_at=at,
                    updated_at=at,
                )
            )
    for (kind, body, status), user in zip(COMMENTS, citizens, strict=False):
        phase = vote if kind == CommentKind.PROPOSAL else needs
        db.session.add(
            ConsultationComment(
                project_id=park.id,
                phase_id=phase.id,
                user_id=user.id,
                kind=kind,
                body=body,
                status=status,
                created_at=phase.opens_at + timedelta(hours=3),
            )
        )
