"""What can go wrong when asking WeChat Pay for a transfer, sorted by what the caller must do."""

from __future__ import annotations

# Business errors after which WeChat says: retry later with the SAME out_bill_no.
RETRY_LATER_CODES = frozenset({"FREQUENCY_LIMITED", "NOT_ENOUGH"})


class PayError(Exception):
    """A WeChat Pay call or callback failed; ``code`` is WeChat's (or ours, upper case)."""

    def __init__(self, code: str, message: str = "", http_status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.http_status = http_status


class PayUnknown(PayError):
    """The outcome is unknown (timeout, 5xx, SYSTEM_ERROR, an answer that does not verify).

    The bill may or may not exist: query it by the same out_bill_no before anything else, and
    never create it again under a new number until the query says it failed.
    """


class PayRejected(PayError):
    """WeChat Pay definitely did not do it (a 4xx business error).

    ``retry_later`` is True for FREQUENCY_LIMITED and NOT_ENOUGH: try again later with the SAME
    out_bill_no. Otherwise the request itself is wrong and repeating it will not help.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        http_status: int | None = None,
        *,
        retry_later: bool | None = None,
    ) -> None:
        super().__init__(code, message, http_status)
        self.retry_later = code in RETRY_LATER_CODES if retry_later is None else retry_later


class BillNotFound(PayRejected):
    """WeChat Pay has no bill under this out_bill_no (NOT_FOUND)."""


class CallbackRejected(PayError):
    """A notification that is not provably from WeChat Pay, or not one we understand."""

    def __init__(self, reason: str) -> None:
        super().__init__("SIGN_ERROR", reason, 401)
        self.reason = reason
