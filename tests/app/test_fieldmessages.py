"""Field errors reach citizens and staff in Chinese, whichever library wrote them."""

from __future__ import annotations

import inspect
import re

import pytest
from marshmallow import fields, validate

from app.fieldmessages import translate, translate_fields

HAN = re.compile(r"[\u4e00-\u9fff]")
SAMPLE = {"min": 1, "max": 50, "equal": 11, "choices": "toilet, park", "other": 3,
          "input": "2026-13-01", "obj_type": "date", "awareness": "aware",
          "min_op": "greater than or equal to", "max_op": "less than or equal to"}  # fmt: skip


def library_messages() -> list[str]:
    """Every default message of marshmallow's fields and validators, filled as they fill them."""
    found: set[str] = set()
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        found.update(getattr(cls, "default_error_messages", {}).values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        messages = [getattr(cls, name) for name in dir(cls) if name.startswith("message")]
        found.update(m for m in messages if isinstance(m, str))
    filled = set()
    for message in found:
        once = message.format(**SAMPLE) if "{" in message else message
        filled.add(once.format(**SAMPLE) if "{" in once else once)  # Range formats twice
    return sorted(m for m in filled if m.endswith("."))  # the bare comparison words are parts


# Latin a reader may meet in a Chinese message: formats, literals and the values of SAMPLE.
KEPT_LATIN = re.compile(r"UTF-8|UUID|IPv[46]|IP|ISO|true|false|YYYY-MM-DD|HH:MM|NaN|toilet|park")


@pytest.mark.parametrize("message", library_messages())
def test_every_message_marshmallow_can_write_comes_out_in_chinese(message):
    out = translate(message)
    assert HAN.search(out), (message, out)
    assert not re.search(r"[A-Za-z]{3,}", KEPT_LATIN.sub("", out)), (message, out)


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Missing data for required field.", "必填项不能为空"),
        ("Unknown field.", "不支持该字段"),
        ("Longer than maximum length 500.", "长度不能超过 500"),
        ("Must be greater than or equal to 1 and less than or equal to 50.",
         "应大于或等于 1 且小于或等于 50"),
        ("Must be one of: pending, paid.", "应为以下之一：pending, paid"),
        ('"2026-13-01" cannot be formatted as a date.', "“2026-13-01”不是有效的日期"),
        ("纬度应在 -90 到 90 之间", "纬度应在 -90 到 90 之间"),  # our own: unchanged
    ],
)  # fmt: skip
def test_values_named_in_the_message_are_kept(english, chinese):
    assert translate(english) == chinese


def test_nested_field_errors_are_translated_and_keep_their_shape():
    errors = {"photos": {0: ["Not a valid string."]}, "lat": ["Missing data for required field."]}
    assert translate_fields(errors) == {"photos": {0: ["应为文本"]}, "lat": ["必填项不能为空"]}


def test_an_api_caller_reads_the_field_errors_in_chinese(client):
    resp = client.post("/api/v1/auth/staff/login", json={"username": 5, "extra": 1})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {
        "password": ["必填项不能为空"],
        "username": ["应为文本"],
        "extra": ["不支持该字段"],
    }
    bad = client.post("/api/v1/reports/classify", data="{", content_type="application/json")
    assert bad.get_json()["error"]["fields"] == {"json": ["请求内容不是有效的 JSON"]}
