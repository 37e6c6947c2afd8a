"""统一社会信用代码 (GB 32100-2015): check character, authority and kind codes."""

from __future__ import annotations

import random

import pytest

from shops import credit_code

# Published codes: the classic example used when GB 32100 was introduced, and Huawei's code as
# shown in its Wikipedia infobox (zh.wikipedia.org, 華為, 機構代碼).
PUBLISHED = ["91350100M000100Y43", "914403001922038216"]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert credit_code.validate(code) == code
    assert credit_code.describe(code)["authority"] == "工商"


def test_describe_names_the_parts():
    parts = credit_code.describe("91350100M000100Y43")
    assert parts == {
        "authority": "工商",
        "kind": "企业",
        "division": "350100",
        "organisation_code": "M000100Y4",
        "check": "3",
    }


def test_lower_case_and_spaces_are_normalised():
    assert credit_code.validate(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "应为 18 位"),
        ("91350100M000100Y44", "校验位错误：应为 3"),
        ("91350100M0001O0Y43", "不允许的字符：O"),
        ("B1350100M000100Y43", "登记管理部门代码 B 不存在"),
        ("94350100M000100Y43", "不属于工商"),
        ("9135A100M000100Y43", "行政区划码应为数字"),
    ],
)
def test_invalid_codes_say_why(code, reason):
    with pytest.raises(credit_code.CreditCodeError, match=reason):
        credit_code.validate(code)
    assert not credit_code.is_valid(code)


def test_check_character_31_maps_to_zero():
    # Find a body whose weighted sum is divisible by 31: its check must be "0", not "Y"+1.
    rng = random.Random(7)
    while True:
        body = "92210106" + "".join(rng.choices(credit_code.ALPHABET, k=9))
        pairs = zip(body, credit_code.WEIGHTS, strict=True)
        if sum(credit_code._VALUE[c] * w for c, w in pairs) % 31 == 0:
            break
    assert credit_code.check_char(body) == "0"
    assert credit_code.is_valid(body + "0")


def test_generated_codes_are_valid_and_every_single_change_is_caught():
    rng = random.Random(2026)
    for _ in range(300):
        body = "MA" + "".join(rng.choices(credit_code.ALPHABET, k=6))
        code = credit_code.build("9", rng.choice("123"), "210106", body)
        assert credit_code.is_valid(code)
        pos = rng.randrange(17)
        other = rng.choice([c for c in credit_code.ALPHABET if c != code[pos]])
        changed = code[:pos] + other + code[pos + 1 :]
        # A single substituted character always changes the mod-31 sum (weights are coprime
        # to 31), so the check character no longer matches, whatever else may still pass.
        assert not credit_code.is_valid(changed)


def test_organisation_code_check_follows_gb_11714():
    assert credit_code.org_check_char("M000100Y") == "4"
    assert credit_code.org_check_char("19220382") == "1"
