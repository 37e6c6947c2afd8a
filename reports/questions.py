"""Per-category follow-up questions (FixMyStreet's "extra questions"), kept as data on the
category: "井盖是否缺失？", "是否有人受伤？". The citizen's form asks them once a category is
chosen; the answers go to the dispatcher with the case, and an answer a question marks as urgent
makes the case urgent (紧急: first in the dispatcher's queues, flagged on the case page).

A question is a dict::

    {"key": "missing", "label": "井盖是否缺失或被移开？", "kind": "yes_no",
     "required": true, "urgent_if": ["是"]}

``kind`` is ``yes_no`` (answers 是/否), ``choice`` (one of ``options``) or ``text`` (free text up
to ``TEXT_MAX`` characters). Admins edit them in the category editor; ``check_questions`` is the
one validation both the editor's API and the seed go through.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.errors import ValidationFailed

QUESTIONS_JSON = Path(__file__).parent / "data" / "category_questions.json"
KINDS = ("yes_no", "choice", "text")
YES_NO = ("是", "否")
MAX_QUESTIONS = 5
MAX_OPTIONS = 8
LABEL_MAX = 60
OPTION_MAX = 20
TEXT_MAX = 100
KEY = re.compile(r"[a-z][a-z0-9_]{0,23}")


def options_of(question: dict[str, Any]) -> tuple[str, ...]:
    """The answers a yes/no or choice question accepts (empty for free text)."""
    if question["kind"] == "yes_no":
        return YES_NO
    return tuple(question.get("options") or ())


def check_questions(raw: Any, field: str = "questions") -> list[dict[str, Any]]:
    """A category's question list, normalised; 422 with a Chinese reason naming the question."""
    if not isinstance(raw, list):
        raise ValidationFailed(fields={field: ["应为问题列表"]})
    if len(raw) > MAX_QUESTIONS:
        raise ValidationFailed(fields={field: [f"每个分类最多{MAX_QUESTIONS}个追问"]})
    out: list[dict[str, Any]] = []
    for n, item in enumerate(raw, start=1):
        out.append(_check_one(item, f"第{n}个追问"))
    keys = [q["key"] for q in out]
    if len(set(keys)) != len(keys):
        raise ValidationFailed(fields={field: ["追问的标识不能重复"]})
    return out


def _check_one(item: Any, where: str) -> dict[str, Any]:
    def refuse(reason: str):
        raise ValidationFailed(fields={"questions": [f"{where}：{reason}"]})

    if not isinstance(item, dict):
        refuse("格式不正确")
    unknown = set(item) - {"key", "label", "kind", "options", "required", "urgent_if"}
    if unknown:
        refuse("含有不认识的设置项")
    key, label, kind = item.get("key"), item.get("label"), item.get("kind")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        refuse("标识应为小写英文字母开头的字母、数字或下划线（至多24个）")
    if not isinstance(label, str) or not label.strip() or len(label.strip()) > LABEL_MAX:
        refuse(f"问题文字应为1至{LABEL_MAX}个字")
    if kind not in KINDS:
        refuse("题型应为 是/否、单选 或 填空")
    question: dict[str, Any] = {"key": key, "label": label.strip(), "kind": kind,
                                "required": bool(item.get("required", False))}  # fmt: skip
    if kind == "choice":
        options = item.get("options")
        if (not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS
                or not all(isinstance(o, str) and 0 < len(o.strip()) <= OPTION_MAX
                           for o in options)):  # fmt: skip
            refuse(f"单选题应有2至{MAX_OPTIONS}个选项，每项1至{OPTION_MAX}个字")
        question["options"] = [o.strip() for o in options]
        if len(set(question["options"])) != len(options):
            refuse("选项不能重复")
    elif item.get("options"):
        refuse("只有单选题有选项")
    urgent = item.get("urgent_if") or []
    if not isinstance(urgent, list) or not all(isinstance(u, str) for u in urgent):
        refuse("紧急条件应为答案列表")
    if urgent and kind == "text":
        refuse("填空题不能设紧急条件")
    if any(u not in options_of(question) for u in urgent):
        refuse("紧急条件应是该题的某个答案")
    if urgent:
        question["urgent_if"] = list(dict.fromkeys(urgent))
    return question


def answer(
    questions: list[dict[str, Any]] | None,
    given: dict[str, Any] | None,
    *,
    enforce_required: bool = True,
):
    """The answers a report keeps (each with the question as asked, so a later edit of the
    category does not change what the citizen was asked) and whether any of them is urgent.
    422 naming ``answers.<key>`` for a missing required answer or one the question does not
    accept; answers to questions the category does not ask are refused too. Staff entering a
    hotline call or a patrol finding may leave required questions open (``enforce_required``)."""
    questions = questions or []
    given = {k: v for k, v in (given or {}).items() if v is not None and str(v).strip() != ""}
    errors: dict[str, list[str]] = {}
    asked = {q["key"] for q in questions}
    for key in given:
        if key not in asked:
            errors[f"answers.{key}"] = ["该问题类别没有这个追问"]
    kept: list[dict[str, Any]] = []
    urgent = False
    for q in questions:
        value = given.get(q["key"])
        if value is None:
            if q.get("required") and enforce_required:
                errors[f"answers.{q['key']}"] = [f"请回答：{q['label']}"]
            continue
        value = str(value).strip()
        choices = options_of(q)
        if choices and value not in choices:
            errors[f"answers.{q['key']}"] = [f"请从以下选项中选择：{'、'.join(choices)}"]
            continue
        if q["kind"] == "text" and len(value) > TEXT_MAX:
            errors[f"answers.{q['key']}"] = [f"最多{TEXT_MAX}个字"]
            continue
        hit = value in q.get("urgent_if", ())
        urgent = urgent or hit
        kept.append({"key": q["key"], "label": q["label"], "answer": value, "urgent": hit})
    if errors:
        raise ValidationFailed(fields=errors)
    return kept, urgent


def load_seed(path: Path = QUESTIONS_JSON) -> dict[str, list[dict[str, Any]]]:
    """The shipped questions by category code, each list checked as the editor checks it."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return {code: check_questions(items) for code, items in data.items()}
