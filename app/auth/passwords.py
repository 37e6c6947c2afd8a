"""What a staff password must not be: short, one character or a short pattern repeated, a run
along the alphabet, the digits or the keyboard, the username, or one of the commonest passwords.
The messages are read by whoever sets the password."""

from __future__ import annotations

MIN_LENGTH = 10
MIN_DISTINCT = 4  # fewer different characters than this: "1111111111", "1212121212"

# Runs that people type as "random": a password made of one (forwards or backwards) is refused.
RUNS = (
    "01234567890123456789",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "zaq12wsxcde34rfvbgt56yhnmju78ik,lo90p",
)

# The commonest passwords of at least MIN_LENGTH characters in published leak statistics
# (shorter ones are refused by length already), compared case-insensitively.
COMMON = frozenset(
    {
        "1234567890", "12345678910", "123456789a", "1234567890a", "a123456789", "a1234567890",
        "abc1234567", "abcd123456", "qwerty1234", "qwerty123456", "1q2w3e4r5t", "1q2w3e4r5t6y",
        "1qaz2wsx3edc", "qazwsxedcrfv", "zxcvbnm123", "password12", "password123",
        "password1234", "passw0rd123", "p@ssw0rd123", "p@ssword123", "administrator",
        "admin123456", "admin@123456", "admin12345", "iloveyou123", "woaini1314",
        "woaini520520", "5201314520", "1314520520", "aa123456789", "qq123456789",
        "abcdefg123", "qwertyuiop123", "1111111111", "0000000000", "88888888888",
        "zhang123456", "wang123456", "li123456789", "superman123", "football123",
    }
)  # fmt: skip


def weakness(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is refused, for the person choosing it; None if it is acceptable."""
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        return f"密码至少需要{MIN_LENGTH}个字符"
    if len(set(lowered)) < MIN_DISTINCT or _repeats_a_pattern(lowered):
        return "密码不能由同一个字符或一小段字符重复组成（如1111111111、1212121212）"
    if _is_a_run(lowered):
        return "密码不能是连续的数字、字母或键盘顺序（如1234567890、abcdefghij、qwertyuiop）"
    if username and len(username) >= 3 and username.lower() in lowered:
        return "密码不能包含用户名"
    if lowered in COMMON:
        return "该密码过于常见，容易被猜中，请换一个"
    return None


def _repeats_a_pattern(text: str) -> bool:
    """True for a piece of at most four characters repeated ("abcabcabca", "12341234123")."""
    return any((text[:size] * (len(text) // size + 1))[: len(text)] == text for size in range(1, 5))


def _is_a_run(text: str) -> bool:
    """True when the whole text is a stretch of one of RUNS, read forwards or backwards."""
    return any(text in run or text in run[::-1] for run in RUNS)
