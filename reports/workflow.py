"""The case workflow (GB/T 30428 / CJ/T 315): the ONE table of allowed transitions.

Each action says which states it leaves, where it goes, who may make it (roles, and whether the
actor must be in the scope of the case's department), what it requires, and what the citizen sees.

``may(staff, report, action)`` is the ONE answer to "may this account take this action on this
case now?": the API's hints, the console's buttons and queues and ``reports.transitions.transition``
(the only code that applies an action) all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth import scope
from app.auth.models import Role
from app.errors import AppError, Forbidden, InvalidTransition, NotFound
from app.geo import regions
from reports.models import OPEN_STATES
from reports.models import ReportState as S

REJECT_REASONS = {
    "invalid": "无效信息",
    "duplicate": "重复上报",
    "out_of_scope": "不属于城管职责范围",
}


@dataclass(frozen=True)
class Action:
    """One allowed move."""

    name: str
    label: str  # what staff read on the button and in the timeline
    sources: frozenset[S]
    target: S | None  # None: decided by the action (resume returns to where it was)
    roles: frozenset[Role]
    department_scope: bool  # the actor must be in scope of the case's department
    requires: frozenset[str] = frozenset()  # reason, note, department, category, after_photo, ...
    public_text: str | None = None  # timeline text for the citizen; None = not shown
    notify: bool = False  # send the citizen a WeChat message
    confirm: str | None = None  # irreversible: the page asks, naming this consequence, first

    def allows_role(self, staff) -> bool:
        """True if the staff account holds one of this action's roles (admins hold all)."""
        return staff.has_role(*self.roles)


OPEN_WORK = frozenset({S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS})
DISPATCHERS = frozenset({Role.DISPATCHER})
HANDLERS = frozenset({Role.HANDLER})
VERIFIERS = frozenset({Role.INSPECTOR, Role.DISPATCHER})

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("register", "立案", frozenset({S.REPORTED}), S.REGISTERED, DISPATCHERS, False,
               frozenset({"category"}), "您反映的问题已受理立案", True),
        Action("reject", "不予立案", frozenset({S.REPORTED}), S.REJECTED, DISPATCHERS, False,
               frozenset({"reason"}), "经核实，您反映的问题不予立案：{reason}", True,
               confirm="不予立案后案件即告结束，不能恢复办理；市民将收到不予立案的通知。"),
        Action("dispatch", "派遣", frozenset({S.REPORTED, S.REGISTERED}), S.DISPATCHED,
               DISPATCHERS, False, frozenset({"category", "department"}),
               "已派遣至{department}处置", True),
        Action("redispatch", "改派", frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.DISPATCHED,
               DISPATCHERS, False, frozenset({"department", "note"}),
               "已改派至{department}处置", True),
        Action("accept", "签收", frozenset({S.DISPATCHED}), S.IN_PROGRESS, HANDLERS, True,
               frozenset(), "{department}已签收，正在处置", False),
        Action("return", "回退", frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.REGISTERED,
               HANDLERS, True, frozenset({"note"}), None, False),
        Action("feedback", "处置反馈", frozenset({S.DISPATCHED, S.IN_PROGRESS}), S.HANDLED,
               HANDLERS, True, frozenset({"note", "public_reply", "after_photo"}),
               "{public_reply}", True),
        Action("verify_pass", "核查通过", frozenset({S.HANDLED}), S.CLOSED, VERIFIERS, False,
               frozenset(), "经现场核查，问题已解决，案件结案", True),
        Action("verify_fail", "核查不通过（返工）", frozenset({S.HANDLED}), S.IN_PROGRESS,
               VERIFIERS, False, frozenset({"note"}), "经核查仍需处置，已要求返工", False),
        Action("request_extension", "申请延期", frozenset({S.DISPATCHED, S.IN_PROGRESS}), None,
               HANDLERS, True, frozenset({"note", "extension"}), None, False),
        Action("approve_extension", "批准延期", frozenset({S.DISPATCHED, S.IN_PROGRESS}), None,
               DISPATCHERS, False, frozenset({"pending_extension"}), "处置时限已延长", False),
        Action("deny_extension", "驳回延期", frozenset({S.DISPATCHED, S.IN_PROGRESS}), None,
               DISPATCHERS, False, frozenset({"pending_extension"}), None, False),
        Action("suspend", "挂账", OPEN_WORK, S.SUSPENDED, DISPATCHERS, False,
               frozenset({"note"}), "该问题需较长时间协调解决，已挂账跟踪", True),
        Action("resume", "恢复办理", frozenset({S.SUSPENDED}), None, DISPATCHERS, False,
               frozenset(), "已恢复办理", False),
        Action("void", "作废", OPEN_WORK | {S.REPORTED, S.HANDLED, S.SUSPENDED}, S.VOIDED,
               DISPATCHERS, False, frozenset({"note"}), "该问题已作废：{note}", True,
               confirm="作废后案件终止办理，不能恢复；市民将收到该问题已作废的通知。"),
        Action("merge", "合并", frozenset({S.REPORTED, S.REGISTERED}), S.MERGED, DISPATCHERS,
               False, frozenset({"target"}), "您反映的问题与已有案件相同，已合并办理", True,
               confirm="合并后本案件终止办理，不能撤销；市民改为跟踪所填案件的办理进度。"),
        Action("archive", "归档", frozenset({S.CLOSED}), S.ARCHIVED, DISPATCHERS, False,
               frozenset(), None, False),
    )
}  # fmt: skip


# What a citizen may do on their own case (not staff actions, so not in the table above; applied
# by reports.transitions.reopen and .comment).
REOPEN_SOURCES = frozenset({S.CLOSED, S.ARCHIVED})  # within REOPEN_DAYS of closing
REOPEN_TEXT = "市民对处理结果不满意，申请重新办理：{reason}"
COMMENT_STATES = OPEN_STATES  # 补充说明 while the case is still being handled
COMMENT_TEXT = "市民补充说明：{text}"


def refusal(staff, report, action: Action) -> AppError | None:
    """Why this account may not take ``action`` on this case now (the error to raise), or None
    if it may: the state (409), the role (403), the department scope (403), then the conditions
    beyond the state such as a pending extension (409)."""
    if report.state not in action.sources:
        return InvalidTransition(f"案件当前状态为“{report.state.label}”，不能执行“{action.label}”")
    if (wrong_role := role_refusal(staff, action)) is not None:
        return wrong_role
    if not scope.covers(staff, department_id=scope_department_id(report, action)):
        return Forbidden("该案件不属于您所在部门", code="out_of_scope")
    if _blocked(action, report):
        return InvalidTransition(_blocked_message(action))
    return None


def action_named(name: str) -> Action:
    """The action called ``name`` (as a URL names it); 404 if there is none."""
    action = ACTIONS.get(name)
    if action is None:
        raise NotFound(f"没有这个操作：{name}", code="unknown_action")
    return action


def role_refusal(staff, action: Action) -> AppError | None:
    """The 403 for an account whose roles never allow ``action`` (on any case), else None."""
    if not action.allows_role(staff):
        return Forbidden(f"您的角色不能执行“{action.label}”", code="role_forbidden")
    return None


def may(staff, report, action: Action | str) -> bool:
    """True if this account may take ``action`` (an Action or its name) on this case now."""
    found = ACTIONS.get(action) if isinstance(action, str) else action
    return found is not None and refusal(staff, report, found) is None


def allowed_actions(report, staff) -> list[Action]:
    """The actions this staff account may take on this case now (for buttons and API hints)."""
    return [a for a in ACTIONS.values() if may(staff, report, a)]


def roles_for(action_name: str) -> frozenset[Role]:
    """The roles that may take an action (with admins, who hold every role): for queues and
    menus that show work before any one case is looked at."""
    return ACTIONS[action_name].roles | {Role.ADMIN}


def scope_department_id(report, action: Action) -> int | None:
    """The department whose scope decides who may act: the case's, else (for actions that do
    not need the case's own department) the department of the region it lies in."""
    if report.department_id is not None:
        return report.department_id
    if action.department_scope or report.region_id is None:
        return None
    region = regions.region_by_id(report.region_id)
    return region.department_id if region else None


def _blocked_message(action: Action) -> str:
    if action.name == "request_extension":
        return "已有待审批的延期申请"
    return "没有待审批的延期申请"


def _blocked(action: Action, report) -> bool:
    """State-dependent conditions beyond the source state."""
    if action.name == "request_extension":
        return report.pending_extension is not None
    if "pending_extension" in action.requires:
        return report.pending_extension is None
    return False
