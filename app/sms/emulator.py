"""An emulator of Aliyun 短信服务 (dysmsapi 2017-05-25): SendSms and QuerySendDetails.

It checks what the real service checks: the common parameters, the AccessKeyId, the signature
v1 (signing.py), the timestamp (15 minutes either way) and the nonce (each used once), then the
action's parameters, and answers in the documented JSON shapes with Aliyun's error codes
(``SignatureDoesNotMatch``, ``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.SMS_TEMPLATE_ILLEGAL`` ...).
Mounted at ``/_sms`` with SMS_EMULATOR (reached in-process by the client), or served over real
HTTP in the tests. Sent messages live on the instance (per process), as with the WeChat emulator.

Test hooks:

- ``inject(*faults)`` queues faults for the next SendSms calls: an Aliyun code
  (``"isp.SYSTEM_ERROR"``, ``"isv.BUSINESS_LIMIT_CONTROL"``), ``"http503"`` (nothing sent) or
  ``"sent-then-503"`` (sent, but the answer is lost: the ambiguous case);
- a number ending in ``0000`` is delivered as failed (ErrCode ``MOBILE_NOT_ON_SERVICE``);
- ``receipt_delay``: seconds a receipt stays "waiting" (SendStatus 1) before it is final.
"""

from __future__ import annotations

import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, jsonify, request

from app.sms import signing

LOCAL = ZoneInfo("Asia/Shanghai")
MAX_SKEW = timedelta(minutes=15)
COMMON = (
    "AccessKeyId",
    "Action",
    "Format",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)
MOBILE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
SIGN_NAME = re.compile(r"^[\w\u4e00-\u9fff]{2,12}$")
TEMPLATE_CODE = re.compile(r"^SMS_\d{6,12}$")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class SmsEmulator:
    """A WSGI app speaking dysmsapi for the given AccessKey pairs (id -> secret)."""

    def __init__(self, keys: Mapping[str, str], *, receipt_delay: float = 0.0) -> None:
        self.keys = dict(keys)
        self.receipt_delay = receipt_delay
        self.lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []
        self.faults: deque[str] = deque()
        self.calls = 0
        self._nonces: dict[str, float] = {}
        self._ids = itertools.count(int(time.time() * 1000) % 10**12)
        self.app = _build(self)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    def inject(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self.sent if phone is None or m["phone"] == phone]

    # -- checks --------------------------------------------------------------------------------

    def authenticate(self, params: dict[str, str], method: str) -> None:
        missing = [k for k in COMMON if not params.get(k)]
        if missing:
            raise _Refusal(400, "MissingParameter", f"{missing[0]} is mandatory for this action.")
        if params["Version"] != "2017-05-25":
            raise _Refusal(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise _Refusal(400, "InvalidSignatureMethod", "Specified signature is not matched.")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise _Refusal(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        try:
            at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _Refusal(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ) from None
        if abs(datetime.now(UTC) - at) > MAX_SKEW:
            raise _Refusal(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        expected = signing.signature(secret, method, params)
        if not _equal(expected, params["Signature"]):
            raise _Refusal(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        now = time.monotonic()
        with self.lock:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < 1800}
            if params["SignatureNonce"] in self._nonces:
                raise _Refusal(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[params["SignatureNonce"]] = now

    # -- actions -------------------------------------------------------------------------------

    def send_sms(self, p: dict[str, str]) -> dict[str, Any]:
        numbers = [n.strip() for n in p.get("PhoneNumbers", "").split(",") if n.strip()]
        if not numbers or len(numbers) > 1000 or not all(MOBILE.match(n) for n in numbers):
            raise _Refusal(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if not SIGN_NAME.match(p.get("SignName", "")):
            raise _Refusal(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if not TEMPLATE_CODE.match(p.get("TemplateCode", "")):
            raise _Refusal(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            params = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            raise _Refusal(
                200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
            ) from None
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise _Refusal(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
            self.calls += 1
        if fault == "http503":
            raise _Refusal(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        if fault and fault != "sent-then-503":
            raise _Refusal(200, fault, "模拟故障")
        biz_id = f"{next(self._ids):015d}^0"
        now = datetime.now(LOCAL)
        with self.lock:
            for number in numbers:
                phone = MOBILE.match(number).group(1)
                self.sent.append(
                    {
                        "biz_id": biz_id,
                        "phone": phone,
                        "sign_name": p["SignName"],
                        "template_code": p["TemplateCode"],
                        "params": params,
                        "out_id": p.get("OutId", ""),
                        "sent_at": now,
                        "content": f"【{p['SignName']}】" + "，".join(params.values()),
                        "failed": phone.endswith("0000"),
                    }
                )
        if fault == "sent-then-503":
            raise _Refusal(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        return {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": _request_id()}

    def query_send_details(self, p: dict[str, str]) -> dict[str, Any]:
        match = MOBILE.match(p.get("PhoneNumber", ""))
        if not match:
            raise _Refusal(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        try:
            day = datetime.strptime(p.get("SendDate", ""), "%Y%m%d").date()
            size, page = int(p.get("PageSize", "")), int(p.get("CurrentPage", ""))
        except ValueError:
            raise _Refusal(
                400, "InvalidParameter", "SendDate, PageSize or CurrentPage is invalid."
            ) from None
        if not 1 <= size <= 50 or page < 1:
            raise _Refusal(400, "InvalidParameter", "PageSize must be 1-50, CurrentPage >= 1.")
        biz = p.get("BizId")
        rows = [
            m
            for m in self.messages(match.group(1))
            if m["sent_at"].date() == day and (not biz or m["biz_id"] == biz)
        ]
        page_rows = rows[(page - 1) * size : page * size]
        return {
            "Code": "OK",
            "Message": "OK",
            "RequestId": _request_id(),
            "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [self._detail(m) for m in page_rows]},
        }

    def _detail(self, m: dict[str, Any]) -> dict[str, Any]:
        final = datetime.now(LOCAL) - m["sent_at"] >= timedelta(seconds=self.receipt_delay)
        status = 1 if not final else 2 if m["failed"] else 3
        received = m["sent_at"] + timedelta(seconds=1)
        return {
            "PhoneNum": m["phone"],
            "SendStatus": status,
            "ErrCode": {1: "", 2: "MOBILE_NOT_ON_SERVICE", 3: "DELIVERED"}[status],
            "TemplateCode": m["template_code"],
            "Content": m["content"],
            "SendDate": m["sent_at"].strftime("%Y-%m-%d %H:%M:%S"),
            "ReceiveDate": received.strftime("%Y-%m-%d %H:%M:%S") if final else "",
            "OutId": m["out_id"],
        }


def _equal(a: str, b: str) -> bool:
    """A constant-time comparison, as a server compares signatures."""
    return hmac.compare_digest(a.encode(), b.encode())


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _build(emu: SmsEmulator) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    actions = {"SendSms": emu.send_sms, "QuerySendDetails": emu.query_send_details}

    @app.route("/", methods=["GET", "POST"])
    def rpc() -> Response | tuple[Response, int]:
        params = {k: v for k, v in request.values.items()}
        try:
            emu.authenticate(params, request.method)
            action = actions.get(params["Action"])
            if action is None:
                raise _Refusal(404, "InvalidApi.NotFound", "Specified api is not found.")
            return jsonify(action(params))
        except _Refusal as exc:
            body = {"Code": exc.code, "Message": exc.message, "RequestId": _request_id()}
            return jsonify(body), exc.status

    return app


def emulator_from_config(config: Mapping[str, Any]) -> SmsEmulator:
    """An emulator knowing our AccessKey pair."""
    return SmsEmulator({config["SMS_ACCESS_KEY_ID"]: config["SMS_ACCESS_KEY_SECRET"]})
