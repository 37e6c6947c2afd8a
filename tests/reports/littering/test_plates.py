"""Plate number grammar: every kind valid and invalid, normalization, colours, masking."""

import pytest

from reports.littering.plates import (
    KINDS,
    MSG_AUTHORITY,
    MSG_FORMAT,
    MSG_NEV,
    MSG_NO_I_O,
    MSG_PROVINCE,
    PLATE_COLOURS,
    PROVINCES,
    check_plate,
    format_plate,
    mask_plate,
    normalize_plate,
)


def test_there_are_31_provinces_and_six_colours():
    assert len(set(PROVINCES)) == len(PROVINCES) == 31
    assert set(PLATE_COLOURS) == {"blue", "yellow", "green", "yellow_green", "white", "black"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("湘C3K88Z", "ordinary"),
        ("京A12345", "ordinary"),
        ("粤BAB123", "ordinary"),
        ("琼EZZZZZ", "ordinary"),
        ("粤BD12345", "new_energy_small"),
        ("沪AFA1234", "new_energy_small"),
        ("浙AA12345", "new_energy_small"),
        ("苏EK98765", "new_energy_small"),
        ("川A12345D", "new_energy_large"),
        ("鄂A00001F", "new_energy_large"),
        ("湘A1234挂", "trailer"),
        ("鲁BA123挂", "trailer"),
        ("豫A1234学", "coach"),
        ("京A0001警", "police"),
    ],
)
def test_valid_plates_of_every_kind(text, kind):
    result = check_plate(text)
    assert (result.ok, result.kind, result.error) == (True, kind, None)
    assert result.normalized == text


def test_every_kind_is_covered():
    assert len(KINDS) == 6


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "请填写车牌号"),
        ("AB12345", MSG_PROVINCE),
        ("港A12345", MSG_PROVINCE),
        ("湘112345", MSG_AUTHORITY),
        ("湘", MSG_AUTHORITY),
        ("湘C3K8", MSG_FORMAT),
        ("湘C3K88Z12", MSG_FORMAT),
        ("湘CO1234", MSG_NO_I_O),
        ("湘C1I234", MSG_NO_I_O),
        ("粤B123456", MSG_NEV),  # six digits: neither small (letter first) nor large (D/F last)
        ("粤BM12345", MSG_NEV),  # M is not an energy-type letter
        ("粤BD1234A", MSG_NEV),  # the last four of a small NEV are digits
        ("川A1234AD", MSG_NEV),  # the first five of a large NEV are digits
        ("湘C3K8学Z", "挂车、教练车、警车号牌应为省份简称+字母+4位字母或数字+“挂”“学”“警”"),
        ("湘C3K8#Z", MSG_FORMAT),
    ],
)
def test_invalid_plates_say_what_is_wrong(text, error):
    result = check_plate(text)
    assert result.ok is False
    assert result.error == error


def test_the_general_message_is_the_one_citizens_are_shown():
    assert check_plate("湘C3K8").error == (
        "车牌号格式不正确：应为省份简称+字母+5位（新能源6位）字母或数字"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("湘C·3K88Z", "湘C3K88Z"),
        (" 湘 c 3k88z ", "湘C3K88Z"),
        ("湘C-3K88Z", "湘C3K88Z"),
        ("湘C.3K88Z", "湘C3K88Z"),
        ("湘C•3K88Z", "湘C3K88Z"),
        ("湘Ｃ３Ｋ８８Ｚ", "湘C3K88Z"),  # full-width letters and digits
        ("湘C\u30003K88Z", "湘C3K88Z"),  # ideographic space
        ("粤b·d12345", "粤BD12345"),
    ],
)
def test_normalization(text, expected):
    assert normalize_plate(text) == expected
    assert check_plate(text).ok


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("湘C3K88Z", "blue"),
        ("湘C3K88Z", "yellow"),
        ("湘C3K88Z", "black"),
        ("粤BD12345", "green"),
        ("川A12345D", "yellow_green"),
        ("湘A1234挂", "yellow"),
        ("豫A1234学", "yellow"),
        ("京A0001警", "white"),
    ],
)
def test_consistent_colours_pass(text, colour):
    assert check_plate(text, colour).ok


def test_a_new_energy_number_on_a_blue_plate_is_refused():
    result = check_plate("粤BD12345", "blue")
    assert (result.ok, result.kind) == (False, "new_energy_small")
    assert (
        result.error
        == "号牌颜色与号码不符：小型新能源号牌应为绿牌（新能源），不是蓝牌，请核对颜色或号码"
    )


@pytest.mark.parametrize(
    ("text", "colour", "fragment"),
    [
        ("湘C3K88Z", "green", "普通号牌应为蓝牌或黄牌或黑牌，不是绿牌（新能源）"),
        ("川A12345D", "green", "大型新能源号牌应为黄绿牌（新能源大型车），不是绿牌"),
        ("京A0001警", "blue", "警车号牌应为白牌，不是蓝牌"),
        ("湘A1234挂", "white", "挂车号牌应为黄牌，不是白牌"),
    ],
)
def test_inconsistent_colours_are_refused(text, colour, fragment):
    result = check_plate(text, colour)
    assert result.ok is False
    assert fragment in result.error


def test_unknown_colour_and_bad_number_report_the_number_first():
    assert (
        check_plate("湘C3K88Z", "pink").error
        == "请选择号牌颜色：蓝牌、黄牌、绿牌、黄绿牌、白牌或黑牌"
    )
    assert check_plate("湘C3K8", "green").error == MSG_FORMAT


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("湘C3K88Z", "湘C·3***Z"),
        ("湘C·3K88Z", "湘C·3***Z"),
        ("粤BD12345", "粤B·D****5"),
        ("湘A1234挂", "湘A·1***挂"),
        ("湘C", "湘C"),
        ("湘CX", "湘C·*"),
    ],
)
def test_masking_keeps_province_letter_first_and_last(text, masked):
    assert mask_plate(text) == masked


def test_format_plate_puts_the_dot_back():
    assert format_plate("湘c3k88z") == "湘C·3K88Z"
