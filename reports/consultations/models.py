"""Project consultations (问需于民、问计于民、问效于民): a project (a pocket park, a back alley, a
street clean-up ...) asks residents through a QR plate on site what they need (问需), which
option they prefer and what they propose (问计), and how well it turned out (问效).

A project has up to one phase of each kind, each with its dates and its questions (data: single
choice, multiple choice, text, rating). A citizen has ONE response per phase (unique), changed
as often as they like until the phase closes; comments and proposals wait for a moderator before
anyone else sees them. Places are GCJ-02 (a point, and optionally a polygon over the region map).
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import Department, StaffUser, User
from app.db import enum_column, utcnow
from app.extensions import db
from app.media.models import Media

# Plate codes: no 0/O, 1/I/L (read off a plate by people, and typed).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_code() -> str:
    """A random project code for its plate URL (31^8, about 8.5e11)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class ProjectKind(enum.StrEnum):
    """What kind of project is consulted on."""

    POCKET_PARK = "pocket_park"
    BACK_ALLEY = "back_alley"
    CITYSCAPE = "cityscape"
    GREENING = "greening"
    FACILITY = "facility"
    OTHER = "other"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    ProjectKind.POCKET_PARK: "口袋公园",
    ProjectKind.BACK_ALLEY: "背街小巷",
    ProjectKind.CITYSCAPE: "市容整治",
    ProjectKind.GREENING: "绿化提升",
    ProjectKind.FACILITY: "便民设施",
    ProjectKind.OTHER: "其他项目",
}


class ProjectStatus(enum.StrEnum):
    DRAFT = "draft"  # being prepared: staff only
    PUBLISHED = "published"  # public; its phases open and close by their dates
    CLOSED = "closed"  # ended: public, every phase closed

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ProjectStatus.DRAFT: "草稿",
    ProjectStatus.PUBLISHED: "已发布",
    ProjectStatus.CLOSED: "已结束",
}


class PhaseKind(enum.StrEnum):
    """The three questions of 网上亮码, in their order."""

    NEEDS = "needs"  # 问需于民
    PROPOSALS = "proposals"  # 问计于民
    OUTCOME = "outcome"  # 问效于民

    @property
    def label(self) -> str:
        return PHASE_LABELS[self]

    @property
    def short(self) -> str:
        return PHASE_SHORT[self]


PHASE_ORDER = (PhaseKind.NEEDS, PhaseKind.PROPOSALS, PhaseKind.OUTCOME)
PHASE_SHORT = {PhaseKind.NEEDS: "问需", PhaseKind.PROPOSALS: "问计", PhaseKind.OUTCOME: "问效"}
PHASE_LABELS = {
    PhaseKind.NEEDS: "问需于民 · 征集需求",
    PhaseKind.PROPOSALS: "问计于民 · 方案征询",
    PhaseKind.OUTCOME: "问效于民 · 效果评价",
}


class PhaseState(enum.StrEnum):
    """Where a phase stands now (from the project's status and the phase's dates)."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return PHASE_STATE_LABELS[self]


PHASE_STATE_LABELS = {
    PhaseState.UPCOMING: "未开始",
    PhaseState.OPEN: "进行中",
    PhaseState.CLOSED: "已结束",
}


class QuestionKind(enum.StrEnum):
    """A question's kind (questions are data on the phase)."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    TEXT = "text"
    RATING = "rating"

    @property
    def label(self) -> str:
        return QUESTION_LABELS[self]


QUESTION_LABELS = {
    QuestionKind.SINGLE: "单选",
    QuestionKind.MULTIPLE: "多选",
    QuestionKind.TEXT: "填空",
    QuestionKind.RATING: "评分（1-5星）",
}


class CommentKind(enum.StrEnum):
    COMMENT = "comment"  # 留言
    PROPOSAL = "proposal"  # 建议 (a citizen's own proposal, 问计)

    @property
    def label(self) -> str:
        return COMMENT_KIND_LABELS[self]


COMMENT_KIND_LABELS = {CommentKind.COMMENT: "留言", CommentKind.PROPOSAL: "建议"}


class CommentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return COMMENT_STATUS_LABELS[self]


COMMENT_STATUS_LABELS = {
    CommentStatus.PENDING: "待审核",
    CommentStatus.APPROVED: "已公开",
    CommentStatus.REJECTED: "未通过",
}


class ConsultationProject(db.Model):
    """A project residents are consulted on, with its place, photos and responsible unit."""

    __tablename__ = "consultation_projects"
    __table_args__ = (Index("ix_consultation_projects_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, default=new_code)
    kind: Mapped[ProjectKind] = mapped_column(enum_column(ProjectKind, 16))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    # GCJ-02. The point is where the plate stands (for a polygon: inside it).
    lat: Mapped[float] = mapped_column(Double)
    lng: Mapped[float] = mapped_column(Double)
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a GeoJSON Polygon, GCJ-02
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[ProjectStatus] = mapped_column(enum_column(ProjectStatus, 16))
    result_note: Mapped[str | None] = mapped_column(Text)  # 结果公示
    result_published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    department: Mapped[Department] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()
    phases: Mapped[list[ConsultationPhase]] = relationship(
        back_populates="project", cascade="all, delete-orphan", lazy="selectin"
    )
    photos: Mapped[list[ConsultationPhoto]] = relationship(
        cascade="all, delete-orphan", order_by="ConsultationPhoto.position", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}

    def phase(self, kind: PhaseKind) -> ConsultationPhase | None:
        """The project's phase of this kind, if it has one."""
        return next((p for p in self.phases if p.kind == kind), None)


class ConsultationPhoto(db.Model):
    """A photo of the project (uploaded by staff through /api/v1/media), in order."""

    __tablename__ = "consultation_photos"
    __table_args__ = (UniqueConstraint("project_id", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("consultation_projects.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    media: Mapped[Media] = relationship(lazy="joined")


class ConsultationPhase(db.Model):
    """One of the project's phases: its dates, its questions (data) and what citizens may add.

    ``questions``: a list of {"key", "kind", "title", "options", "required", "max_choices"}
    (reports.consultations.questions checks them); answers name options by their index, so the
    questions are frozen once the first answer came in."""

    __tablename__ = "consultation_phases"
    __table_args__ = (UniqueConstraint("project_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("consultation_projects.id", ondelete="CASCADE")
    )
    kind: Mapped[PhaseKind] = mapped_column(enum_column(PhaseKind, 16))
    title: Mapped[str] = mapped_column(String(100))
    intro: Mapped[str | None] = mapped_column(Text)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    allow_comments: Mapped[bool] = mapped_column(default=True)
    allow_proposals: Mapped[bool] = mapped_column(default=False)

    project: Mapped[ConsultationProject] = relationship(back_populates="phases")


class ConsultationResponse(db.Model):
    """A citizen's answers (and votes) in one phase: one row per phase and citizen, replaced
    by a later submission while the phase is open."""

    __tablename__ = "consultation_responses"
    __table_args__ = (UniqueConstraint("phase_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("consultation_phases.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    changes: Mapped[int] = mapped_column(Integer, default=0)  # times changed after the first

    phase: Mapped[ConsultationPhase] = relationship()


class ConsultationComment(db.Model):
    """A citizen's comment or proposal on a phase, shown to others once a moderator approved
    it. Erasing the citizen's data keeps the text and forgets the author (``user_id`` NULL)."""

    __tablename__ = "consultation_comments"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_consultation_comments_status_created", "status", "created_at"),
        Index("ix_consultation_comments_phase_status", "phase_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("consultation_projects.id", ondelete="CASCADE"), index=True
    )
    phase_id: Mapped[int] = mapped_column(ForeignKey("consultation_phases.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[CommentKind] = mapped_column(enum_column(CommentKind, 16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[CommentStatus] = mapped_column(enum_column(CommentStatus, 16))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    moderated_at: Mapped[datetime | None]

    project: Mapped[ConsultationProject] = relationship()
    phase: Mapped[ConsultationPhase] = relationship()
    user: Mapped[User | None] = relationship()
    moderated_by: Mapped[StaffUser | None] = relationship()
