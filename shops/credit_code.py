"""统一社会信用代码 (unified social credit code), GB 32100-2015.

18 characters from the alphabet 0-9 A-H J-N P-R T-U W-Y (no I, O, S, V, Z):
position 1 the registration authority, 2 the kind of organisation under that authority, 3-8 the
administrative division of the registering office (GB/T 2260), 9-17 the organisation code
(GB 11714, itself ending in a check character), 18 the check character (GB/T 17710, mod 31).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}

# Position 1 (registration authority) -> (name, {position 2: kind of organisation}).
AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体",
                       "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所",
                       "4": "司法鉴定机构", "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构",
                   "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织",
                   "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}  # fmt: skip

# GB 11714 organisation code: 8 characters (0-9, A-Z) and a check character (0-9 or X).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


class CreditCodeError(ValueError):
    """A code that is not a valid 统一社会信用代码; the message says why, for people."""


def check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters."""
    total = sum(int(ch, 36) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def normalize(raw: str) -> str:
    """Upper case without surrounding or inner spaces (as people type it)."""
    return "".join(str(raw).split()).upper()


def validate(raw: str) -> str:
    """The normalised code, or CreditCodeError with the reason in Chinese."""
    code = normalize(raw)
    if len(code) != 18:
        raise CreditCodeError(f"统一社会信用代码应为 18 位，实际 {len(code)} 位")
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise CreditCodeError(f"含有不允许的字符：{''.join(bad)}（不使用 I、O、S、V、Z）")
    authority = AUTHORITIES.get(code[0])
    if authority is None:
        raise CreditCodeError(f"第 1 位登记管理部门代码 {code[0]} 不存在")
    if code[1] not in authority[1]:
        raise CreditCodeError(f"第 2 位机构类别代码 {code[1]} 不属于{authority[0]}登记管理部门")
    if not code[2:8].isdigit():
        raise CreditCodeError("第 3-8 位行政区划码应为数字")
    expected = check_char(code[:17])
    if code[17] != expected:
        raise CreditCodeError(f"校验位错误：应为 {expected}，实际 {code[17]}")
    return code


def is_valid(raw: str) -> bool:
    """True if ``raw`` is a valid code (after normalising)."""
    try:
        validate(raw)
    except CreditCodeError:
        return False
    return True


def describe(code: str) -> dict[str, str]:
    """The parts of a valid code, named as the standard names them."""
    code = validate(code)
    authority, kinds = AUTHORITIES[code[0]]
    return {
        "authority": authority,
        "kind": kinds[code[1]],
        "division": code[2:8],
        "organisation_code": code[8:17],
        "check": code[17],
    }


def build(authority: str, kind: str, division: str, org_body: str) -> str:
    """A valid code from its parts; ``org_body`` is the 8-character organisation code body."""
    first17 = f"{authority}{kind}{division}{org_body}{org_check_char(org_body)}"
    return first17 + check_char(first17)
