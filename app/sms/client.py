"""The SMS gateway client: Aliyun 短信服务 (dysmsapi, API version 2017-05-25), RPC style.

``SendSms`` sends one templated message (PhoneNumbers, SignName, TemplateCode, TemplateParam as
JSON, OutId: our own id, echoed in delivery receipts); ``QuerySendDetails`` pulls the delivery
receipts (SendStatus 1 waiting, 2 failed, 3 delivered) of one number on one day. Requests are
signed with signature v1 (signing.py). Where calls go: ``SMS_API_BASE_URL``, else the
in-process emulator (``SMS_EMULATOR``), else https://dysmsapi.aliyuncs.com/.

Errors are ``SmsError`` with Aliyun's code; ``retryable`` says whether trying later may help,
``ambiguous`` that the message may have gone out although no answer said so (a timeout, a
5xx): before sending it again the caller looks for it by OutId (``find_sent``).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import requests
from flask import current_app
from wsgiadapter import WSGIAdapter

from app.sms import signing

log = logging.getLogger(__name__)

REAL_BASE = "https://dysmsapi.aliyuncs.com/"
EMULATOR_INTERNAL_BASE = "http://sms-emulator.internal/"
API_VERSION = "2017-05-25"
# Codes worth another try later: Aliyun's own trouble and flow control (per-number limits).
RETRYABLE = frozenset(
    {
        "isp.SYSTEM_ERROR",
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling.User",
        "ServiceUnavailable",
        "InternalError",
        "isv.OUT_OF_SERVICE",
    }
)
SEND_STATUS = {1: "waiting", 2: "failed", 3: "delivered"}


class SmsError(Exception):
    """A refused or failed gateway call."""

    def __init__(self, code: str, message: str, *, retryable: bool, ambiguous: bool = False):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
        self.retryable, self.ambiguous = retryable, ambiguous


@dataclass(frozen=True)
class SendResult:
    biz_id: str
    request_id: str


@dataclass(frozen=True)
class Receipt:
    """One row of QuerySendDetails."""

    phone: str
    status: str  # waiting | failed | delivered
    err_code: str
    template_code: str
    content: str
    out_id: str
    send_date: str
    receive_date: str


class _StrContentLength:
    """WSGIAdapter puts an int in CONTENT_LENGTH; WSGI (and werkzeug) want a string."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        environ["CONTENT_LENGTH"] = str(environ.get("CONTENT_LENGTH") or "")
        return self.wsgi_app(environ, start_response)


class SmsClient:
    """Signed calls to one dysmsapi endpoint."""

    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.key_id, self.secret, self.timeout = access_key_id, access_key_secret, timeout
        self.http = session or requests.Session()

    def signed_params(self, action: str, params: dict[str, str], method: str = "POST") -> dict:
        """The request's parameters with the common ones and the Signature."""
        full = {
            "AccessKeyId": self.key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        } | {k: str(v) for k, v in params.items() if v is not None}
        full["Signature"] = signing.signature(self.secret, method, full)
        return full

    def call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """One signed POST (form-encoded); the JSON answer when its Code is OK."""
        try:
            resp = self.http.post(
                self.base_url, data=self.signed_params(action, params), timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise SmsError("NetworkError", str(exc)[:200], retryable=True, ambiguous=True) from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        code = str(body.get("Code") or f"HTTP{resp.status_code}")
        if resp.status_code >= 500:
            raise SmsError(
                code, str(body.get("Message") or resp.reason), retryable=True, ambiguous=True
            )
        if code != "OK":
            raise SmsError(code, str(body.get("Message") or ""), retryable=code in RETRYABLE)
        return body

    def send_sms(
        self,
        phone: str,
        sign_name: str,
        template_code: str,
        template_param: dict[str, str],
        out_id: str,
    ) -> SendResult:
        body = self.call(
            "SendSms",
            {
                "PhoneNumbers": phone,
                "SignName": sign_name,
                "TemplateCode": template_code,
                "TemplateParam": json.dumps(template_param, ensure_ascii=False, sort_keys=True),
                "OutId": out_id,
            },
        )
        return SendResult(str(body.get("BizId") or ""), str(body.get("RequestId") or ""))

    def query_send_details(
        self,
        phone: str,
        send_date: date,
        *,
        biz_id: str | None = None,
        page_size: int = 50,
        page: int = 1,
    ) -> list[Receipt]:
        body = self.call(
            "QuerySendDetails",
            {
                "PhoneNumber": phone,
                "SendDate": send_date.strftime("%Y%m%d"),
                "BizId": biz_id,
                "PageSize": page_size,
                "CurrentPage": page,
            },
        )
        rows = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
        return [
            Receipt(
                phone=str(r.get("PhoneNum", "")),
                status=SEND_STATUS.get(int(r.get("SendStatus") or 1), "waiting"),
                err_code=str(r.get("ErrCode") or ""),
                template_code=str(r.get("TemplateCode") or ""),
                content=str(r.get("Content") or ""),
                out_id=str(r.get("OutId") or ""),
                send_date=str(r.get("SendDate") or ""),
                receive_date=str(r.get("ReceiveDate") or ""),
            )
            for r in rows
        ]

    def find_sent(self, phone: str, send_date: date, out_id: str) -> Receipt | None:
        """The message with this OutId sent to phone that day, if the gateway has it."""
        for receipt in self.query_send_details(phone, send_date):
            if receipt.out_id == out_id:
                return receipt
        return None


def emulator():
    """The in-process emulator of this app, or None when it is off."""
    return current_app.extensions.get("sms_emulator")


def base_url() -> str:
    """Where calls go: config, else the in-process emulator, else Aliyun."""
    base = current_app.config.get("SMS_API_BASE_URL") or ""
    if not base:
        base = EMULATOR_INTERNAL_BASE if emulator() is not None else REAL_BASE
    return base.rstrip("/") + "/"


def client_from_config() -> SmsClient:
    """A client for this app's settings; the in-process emulator is mounted when it is the
    target (no socket: the embedded mode works with nothing else running)."""
    cfg = current_app.config
    base = base_url()
    session = requests.Session()
    emu = emulator()
    if emu is not None and base == EMULATOR_INTERNAL_BASE:
        session.mount(
            EMULATOR_INTERNAL_BASE,
            WSGIAdapter(_StrContentLength(emu), log_function=lambda _resp: None),
        )
    return SmsClient(
        base,
        cfg["SMS_ACCESS_KEY_ID"],
        cfg["SMS_ACCESS_KEY_SECRET"],
        timeout=cfg["SMS_HTTP_TIMEOUT"],
        session=session,
    )
