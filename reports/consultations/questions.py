"""A phase's questions as data, a citizen's answers checked against them, and their tallies.

A question: {"key": "q1", "kind": single | multiple | text | rating, "title": "...",
"options": [...] (choices only), "required": bool, "max_choices": n (multiple only)}. Keys are
given by position when staff save the list. An answer names options by index (0-based): a single
choice is an int, a multiple choice a list of ints, a rating an int from 1 to 5, a text a string.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from app.errors import ValidationFailed
from reports.consultations.models import QuestionKind

MAX_QUESTIONS = 20
MAX_OPTIONS = 12
TEXT_MAX = 500
RATING_MAX = 5
CHOICES = (QuestionKind.SINGLE, QuestionKind.MULTIPLE)
LATEST_TEXTS = 20  # text answers listed with the results, newest first


def normalise_questions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The staff's question list as stored (keys by position); 422 naming the item at fault.
    Shapes and lengths were checked by the schema; rules across fields are checked here."""
    errors: dict[str, list[str]] = {}
    out = []
    for index, item in enumerate(items):
        kind = QuestionKind(item["kind"])
        options = [o.strip() for o in item.get("options") or []]
        question: dict[str, Any] = {
            "key": f"q{index + 1}",
            "kind": kind.value,
            "title": item["title"].strip(),
            "required": bool(item.get("required", True)),
        }
        if kind in CHOICES:
            if len(options) < 2:
                errors[f"questions.{index}"] = ["选择题至少需要两个选项"]
            elif len(set(options)) != len(options):
                errors[f"questions.{index}"] = ["选项不能重复"]
            question["options"] = options
            if kind == QuestionKind.MULTIPLE:
                most = item.get("max_choices") or len(options)
                if most > len(options):
                    errors[f"questions.{index}"] = ["最多可选项数不能超过选项数"]
                question["max_choices"] = most
        elif options:
            errors[f"questions.{index}"] = [f"{kind.label}题不需要选项"]
        out.append(question)
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def _checked(question: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """(the stored answer or None when unanswered, an error message or None)."""
    kind = QuestionKind(question["kind"])
    if value is None or value == "" or value == []:
        return None, None
    if kind == QuestionKind.TEXT:
        if not isinstance(value, str):
            return None, "请填写文字"
        text = value.strip()
        if len(text) > TEXT_MAX:
            return None, f"最多{TEXT_MAX}字"
        return text or None, None
    if kind == QuestionKind.MULTIPLE:
        picks = value if isinstance(value, list) else [value]
        n = len(question["options"])
        if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < n for p in picks):
            return None, "选项不存在"
        if len(set(picks)) != len(picks):
            return None, "选项不能重复"
        if len(picks) > question.get("max_choices", n):
            return None, f"最多选择{question.get('max_choices', n)}项"
        return sorted(picks), None
    if not isinstance(value, int) or isinstance(value, bool):
        return None, "请选择一项" if kind == QuestionKind.SINGLE else "请选择1到5星"
    if kind == QuestionKind.SINGLE and not 0 <= value < len(question["options"]):
        return None, "选项不存在"
    if kind == QuestionKind.RATING and not 1 <= value <= RATING_MAX:
        return None, "请选择1到5星"
    return value, None


def check_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as stored: only answered questions, options sorted; 422 naming
    ``answers.<key>`` for an unknown question, a wrong answer or a required one left out."""
    known = {q["key"]: q for q in questions}
    errors = {f"answers.{key}": ["没有这道题"] for key in answers if key not in known}
    out: dict[str, Any] = {}
    for key, question in known.items():
        value, error = _checked(question, answers.get(key))
        if error:
            errors[f"answers.{key}"] = [error]
        elif value is None and question.get("required"):
            errors[f"answers.{key}"] = ["此题必答"]
        elif value is not None:
            out[key] = value
    if errors:
        raise ValidationFailed(fields=errors)
    if not out:
        raise ValidationFailed(fields={"answers": ["请至少回答一道题"]})
    return out


def answer_text(question: dict[str, Any], value: Any) -> str:
    """An answer as people read it (exports, the citizen's own data)."""
    if value is None:
        return ""
    kind = QuestionKind(question["kind"])
    options = question.get("options") or []
    if kind == QuestionKind.SINGLE:
        return options[value] if 0 <= value < len(options) else ""
    if kind == QuestionKind.MULTIPLE:
        return "、".join(options[i] for i in value if 0 <= i < len(options))
    if kind == QuestionKind.RATING:
        return f"{value}星"
    return str(value)


def tally(question: dict[str, Any], values: Iterable[Any]) -> dict[str, Any]:
    """One question's results: counts per option (choices), the distribution and the average
    (ratings), the number and the latest answers (texts). ``values`` newest first."""
    kind = QuestionKind(question["kind"])
    answered = [v for v in values if v is not None]
    out: dict[str, Any] = {
        "key": question["key"],
        "kind": kind.value,
        "kind_label": kind.label,
        "title": question["title"],
        "answered": len(answered),
    }
    if kind in CHOICES:
        counts: Counter[int] = Counter()
        for value in answered:
            counts.update(value if isinstance(value, list) else [value])
        out["options"] = [
            {
                "label": label,
                "count": counts[i],
                "share": round(counts[i] / len(answered), 4) if answered else 0.0,
            }
            for i, label in enumerate(question["options"])
        ]
    elif kind == QuestionKind.RATING:
        counts = Counter(answered)
        out["distribution"] = [{"stars": s, "count": counts[s]} for s in range(1, RATING_MAX + 1)]
        out["average"] = round(sum(answered) / len(answered), 2) if answered else None
        satisfied = sum(counts[s] for s in (4, 5))
        out["satisfied_share"] = round(satisfied / len(answered), 4) if answered else None
    else:
        out["latest"] = [str(v) for v in answered[:LATEST_TEXTS]]
    return out
