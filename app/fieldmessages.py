"""Field error messages in Simplified Chinese.

Our schemas word their own rules in Chinese (纬度应在 -90 到 90 之间), but marshmallow, its
validators and webargs answer a wrong type, a missing field or an unknown one in English ("Missing
data for required field."), and those messages reach citizens and staff through the ``fields`` of
the one error shape. ``translate`` turns every message these libraries can produce into Chinese,
keeping the values they name (lengths, bounds, choices); a message it does not know (our own, in
Chinese already) passes unchanged. ``translate_fields`` applies it through nested field errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_COMPARISONS = {
    "greater than or equal to": "大于或等于",
    "greater than": "大于",
    "less than or equal to": "小于或等于",
    "less than": "小于",
}
_OP = "(greater than or equal to|greater than|less than or equal to|less than)"
_OBJECT_TYPES = {"datetime": "日期时间", "date": "日期", "time": "时间", "timedelta": "时长"}
_AWARENESS = {"aware": "带时区的", "naive": "不带时区的", None: ""}


def _op(text: str) -> str:
    return _COMPARISONS[text]


def _object_type(text: str) -> str:
    return _OBJECT_TYPES.get(text, text)


# (pattern, Chinese): the whole message must match; groups are put back by the function.
_EXACT: dict[str, str] = {
    "Missing data for required field.": "必填项不能为空",
    "Field may not be null.": "不能为空值",
    "Unknown field.": "不支持该字段",
    "Invalid input type.": "内容类型不正确",
    "Invalid type.": "类型不正确",
    "Invalid value.": "取值无效",
    "Not a valid string.": "应为文本",
    "Not a valid utf-8 string.": "应为 UTF-8 文本",
    "Not a valid integer.": "应为整数",
    "Not a valid number.": "应为数字",
    "Number too large.": "数值过大",
    "Special numeric values (nan or infinity) are not permitted.": "不接受 NaN 或无穷大",
    "Not a valid boolean.": "应为 true 或 false",
    "Not a valid date.": "应为日期（YYYY-MM-DD）",
    "Not a valid datetime.": "应为日期时间（ISO 8601，如 2026-12-01T08:00:00+08:00）",
    "Not a valid time.": "应为时间（HH:MM）",
    "Not a valid period of time.": "应为时长",
    "Not a valid list.": "应为列表",
    "Not a valid tuple.": "应为列表",
    "Not a valid mapping type.": "应为对象",
    "Not a valid email address.": "邮箱地址格式不正确",
    "Not a valid URL.": "网址格式不正确",
    "Not a valid UUID.": "应为 UUID",
    "Not a valid IP address.": "IP 地址格式不正确",
    "Not a valid IPv4 address.": "IPv4 地址格式不正确",
    "Not a valid IPv6 address.": "IPv6 地址格式不正确",
    "Not a valid IP interface.": "IP 网段格式不正确",
    "Not a valid IPv4 interface.": "IPv4 网段格式不正确",
    "Not a valid IPv6 interface.": "IPv6 网段格式不正确",
    "String does not match expected pattern.": "格式不正确",
    "Invalid JSON body.": "请求内容不是有效的 JSON",
}
_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Length must be between (\S+) and (\S+)\."),
        lambda m: f"长度应在 {m[1]} 到 {m[2]} 之间",
    ),
    (re.compile(r"Length must be (\S+)\."), lambda m: f"长度应为 {m[1]}"),
    (re.compile(r"Shorter than minimum length (\S+)\."), lambda m: f"长度不能少于 {m[1]}"),
    (re.compile(r"Longer than maximum length (\S+)\."), lambda m: f"长度不能超过 {m[1]}"),
    (
        re.compile(rf"Must be {_OP} (\S+) and {_OP} (\S+)\."),
        lambda m: f"应{_op(m[1])} {m[2]} 且{_op(m[3])} {m[4]}",
    ),
    (re.compile(rf"Must be {_OP} (\S+)\."), lambda m: f"应{_op(m[1])} {m[2]}"),
    (re.compile(r"Must be one of: (.*)\.", re.S), lambda m: f"应为以下之一：{m[1]}"),
    (re.compile(r"Must be equal to (.*)\.", re.S), lambda m: f"应等于 {m[1]}"),
    (
        re.compile(r"Not a valid (?:(aware|naive) )?(datetime|date|time)\."),
        lambda m: f"应为{_AWARENESS[m[1]]}{_object_type(m[2])}",
    ),
    (
        re.compile(r"[\"']?(.*?)[\"']? cannot be formatted as an? (\w+)\.", re.S),
        lambda m: f"“{m[1]}”不是有效的{_object_type(m[2])}",
    ),
]


def translate(message: str) -> str:
    """The message in Chinese if it is one of marshmallow's or webargs' own, else unchanged."""
    exact = _EXACT.get(message)
    if exact is not None:
        return exact
    for pattern, render in _PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return render(match)
    return message


def translate_fields(value: Any) -> Any:
    """Field errors (a dict of lists of messages, nested for nested schemas) translated."""
    if isinstance(value, str):
        return translate(value)
    if isinstance(value, dict):
        return {key: translate_fields(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [translate_fields(item) for item in value]
    return value
