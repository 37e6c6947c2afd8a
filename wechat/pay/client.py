"""The WeChat Pay v3 merchant-transfer client (商家转账, user-confirm mode).

A thin layer over ``wechatpayv3.WeChatPay`` in public-key mode (no certificate downloads), with an
explicit timeout and its gateway pointed at our configured base URL: the real API, the emulator in
tests, or the embedded emulator at ``{PUBLIC_BASE_URL}/_wechatpay``. The embedded gateway is this
same server, so call it only from background workers, never from a request thread (a busy worker
waiting on itself would deadlock).

Every outcome is sorted into :mod:`wechat.pay.errors`: PayUnknown means query before anything else.
Nothing here logs keys, names or whole openids.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from wechat.pay import crypto, keys
from wechat.pay.errors import BillNotFound, CallbackRejected, PayRejected, PayUnknown

log = logging.getLogger(__name__)

REAL_GATEWAY = "https://api.mch.weixin.qq.com"
EMULATOR_MOUNT = "/_wechatpay"
BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
# WeChat requires the payee's real name from 2,000 yuan up.
USER_NAME_REQUIRED_FEN = 200_000
FINISHED_EVENT = "MCHTRANSFER.BILL.FINISHED"
STATES = frozenset(
    {
        "ACCEPTED",
        "PROCESSING",
        "WAIT_USER_CONFIRM",
        "TRANSFERING",
        "SUCCESS",
        "FAIL",
        "CANCELING",
        "CANCELLED",
    }
)
FINAL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})


def mask_openid(openid: str | None) -> str:
    """An openid shortened for logs (enough to correlate, not enough to identify)."""
    if not openid:
        return "-"
    return openid[:6] + "***"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@dataclass(frozen=True)
class Bill:
    """A transfer bill as WeChat Pay reports it (create, query or cancel answer)."""

    out_bill_no: str
    transfer_bill_no: str | None
    state: str
    package_info: str | None = None
    amount_fen: int | None = None
    openid: str | None = None
    fail_reason: str | None = None
    create_time: datetime | None = None
    update_time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_final(self) -> bool:
        """True for SUCCESS, FAIL and CANCELLED (no further change will come)."""
        return self.state in FINAL_STATES

    @classmethod
    def from_answer(
        cls, data: Mapping[str, Any], *, amount_fen: int | None = None, openid: str | None = None
    ) -> Bill:
        """A Bill from WeChat's JSON; the create answer lacks amount and openid, so pass them."""
        amount = data.get("transfer_amount", amount_fen)
        return cls(
            out_bill_no=str(data.get("out_bill_no", "")),
            transfer_bill_no=data.get("transfer_bill_no"),
            state=str(data.get("state", "")),
            package_info=data.get("package_info"),
            amount_fen=amount if isinstance(amount, int) else None,
            openid=data.get("openid", openid),
            fail_reason=data.get("fail_reason") or None,
            create_time=_parse_time(data.get("create_time")),
            update_time=_parse_time(data.get("update_time")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class PaySettings:
    """Everything the client needs, resolved from the Flask config."""

    mchid: str
    appid: str
    private_key_pem: str = field(repr=False)
    cert_serial_no: str
    apiv3_key: str = field(repr=False)
    public_key_pem: str = field(repr=False)
    public_key_id: str
    base_url: str
    notify_url: str
    scene_id: str = "1000"
    timeout: float = 5.0
    callback_max_skew: int = 300


def _secret(config: Mapping[str, Any], name: str) -> str:
    """A PEM from ``name`` (escaped newlines allowed) or from the file named by ``name``_FILE."""
    value = (config.get(name) or "").strip()
    if value:
        return value.replace("\\n", "\n")
    path = (config.get(f"{name}_FILE") or "").strip()
    return Path(path).read_text(encoding="utf-8") if path else ""


def emulator_keys_dir(config: Mapping[str, Any]) -> Path:
    """Where the emulator keeps its generated keys: next to its state file."""
    return Path(config["WECHATPAY_EMULATOR_DB"]).parent


def settings_from_config(config: Mapping[str, Any]) -> PaySettings:
    """The WECHATPAY_* settings, with the emulator's generated keys when it is on and none set."""
    emulator = bool(config.get("WECHATPAY_EMULATOR"))
    public_base = str(config.get("PUBLIC_BASE_URL", "")).rstrip("/")
    base = (config.get("WECHATPAY_API_BASE_URL") or "").rstrip("/")
    if not base:
        base = public_base + EMULATOR_MOUNT if emulator else REAL_GATEWAY
    private_key = _secret(config, "WECHATPAY_PRIVATE_KEY")
    if emulator and not private_key:
        generated = keys.load_or_create(emulator_keys_dir(config))
        material = {
            "private_key_pem": generated.merchant_private_pem,
            "cert_serial_no": generated.merchant_serial_no,
            "apiv3_key": generated.apiv3_key,
            "public_key_pem": generated.platform_public_pem,
            "public_key_id": generated.public_key_id,
        }
    else:
        material = {
            "private_key_pem": private_key,
            "cert_serial_no": config.get("WECHATPAY_CERT_SERIAL_NO") or "",
            "apiv3_key": config.get("WECHATPAY_APIV3_KEY") or "",
            "public_key_pem": _secret(config, "WECHATPAY_PUBLIC_KEY"),
            "public_key_id": config.get("WECHATPAY_PUBLIC_KEY_ID") or "",
        }
    return PaySettings(
        mchid=config["WECHATPAY_MCHID"],
        appid=config.get("WECHATPAY_APPID") or config.get("WECHAT_MINI_APP_ID", ""),
        base_url=base,
        notify_url=config.get("WECHATPAY_NOTIFY_URL")
        or f"{public_base}/wechat/pay/transfer-notify",
        scene_id=str(config.get("WECHATPAY_TRANSFER_SCENE_ID") or "1000"),
        timeout=float(config.get("WECHATPAY_HTTP_TIMEOUT") or 5),
        callback_max_skew=int(config.get("WECHATPAY_CALLBACK_MAX_SKEW") or 300),
        **material,
    )


def _no_certificate_download() -> None:
    """Public-key mode: an answer signed under another serial fails instead of fetching certs."""


class TransferClient:
    """Create, query and cancel transfer bills; verify and decrypt their notifications."""

    def __init__(self, settings: PaySettings) -> None:
        if len(settings.apiv3_key.encode()) != 32:
            raise ValueError("WECHATPAY_APIV3_KEY must be 32 bytes")
        self.settings = settings
        self._pay = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=settings.mchid,
            private_key=settings.private_key_pem,
            cert_serial_no=settings.cert_serial_no,
            appid=settings.appid,
            apiv3_key=settings.apiv3_key,
            notify_url=settings.notify_url,
            timeout=settings.timeout,
            public_key=settings.public_key_pem,
            public_key_id=settings.public_key_id,
        )
        core = self._pay._core
        # The library calls requests.get/post with this prefix; it has no public setting for it.
        core._gate_way = settings.base_url
        core._update_certificates = _no_certificate_download
        self._platform_keys = {
            settings.public_key_id: crypto.load_public_key(settings.public_key_pem)
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransferClient:
        """A client for the WECHATPAY_* settings of ``config`` (a Flask config or any mapping)."""
        return cls(settings_from_config(config))

    # -- calls ---------------------------------------------------------------------------------

    def create_bill(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        *,
        user_name: str | None = None,
        scene_report_infos: list[dict] | None = None,
        notify_url: str | None = None,
        appid: str | None = None,
    ) -> Bill:
        """POST transfer-bills: a bill waiting for the user to confirm (WAIT_USER_CONFIRM).

        ``appid``: the app the openid belongs to (another app bound to the merchant, such as the
        public account, instead of the configured one). Repeating a call with the same
        out_bill_no and content returns the same bill.
        """
        _check_create(out_bill_no, openid, amount_fen, remark, user_name)
        data = self._call(
            "create",
            out_bill_no,
            lambda: self._pay.mch_transfer_bills(
                out_bill_no=out_bill_no,
                transfer_scene_id=self.settings.scene_id,
                openid=openid,
                transfer_amount=amount_fen,
                transfer_remark=remark,
                user_name=user_name,
                transfer_scene_report_infos=scene_report_infos or [],
                appid=appid or self.settings.appid,
                notify_url=notify_url or self.settings.notify_url,
            ),
        )
        bill = Bill.from_answer(data, amount_fen=amount_fen, openid=openid)
        log.info(
            "wechatpay bill %s created for %s, %s fen: %s",
            out_bill_no,
            mask_openid(openid),
            amount_fen,
            bill.state,
        )
        return bill

    def query_bill(self, out_bill_no: str) -> Bill:
        """GET the bill by our number; BillNotFound when WeChat Pay has none."""
        _check_number(out_bill_no)
        data = self._call(
            "query",
            out_bill_no,
            lambda: self._pay.mch_transfer_bills_query(out_bill_no=out_bill_no),
        )
        bill = Bill.from_answer(data)
        log.debug("wechatpay bill %s is %s", out_bill_no, bill.state)
        return bill

    def cancel_bill(self, out_bill_no: str) -> Bill:
        """Cancel a bill the user has not confirmed yet (answers CANCELING or CANCELLED)."""
        _check_number(out_bill_no)
        data = self._call(
            "cancel", out_bill_no, lambda: self._pay.mch_transfer_bills_cancel(out_bill_no)
        )
        bill = Bill.from_answer(data)
        log.info("wechatpay bill %s cancel requested: %s", out_bill_no, bill.state)
        return bill

    def confirm_params(
        self, bill_or_package: Bill | str, appid: str | None = None
    ) -> dict[str, str]:
        """What the page passes to wx.requestMerchantTransfer (or WeixinJSBridge's equivalent);
        ``appid``: the app the bill was made for, when not the configured one."""
        package = (
            bill_or_package.package_info if isinstance(bill_or_package, Bill) else bill_or_package
        )
        if not package:
            raise ValueError("the bill has no package_info (only WAIT_USER_CONFIRM bills have one)")
        return {
            "mchId": self.settings.mchid,
            "appId": appid or self.settings.appid,
            "package": package,
        }

    def _call(self, op: str, out_bill_no: str, send: Callable[[], tuple[int, Any]]) -> dict:
        """Run one library call and sort its outcome into a dict or one of our errors."""
        started = time.monotonic()
        try:
            status, body = send()
        except requests.Timeout as exc:
            log.warning("wechatpay %s %s timed out: outcome unknown", op, out_bill_no)
            raise PayUnknown("TIMEOUT", type(exc).__name__) from exc
        except requests.RequestException as exc:
            log.warning("wechatpay %s %s: network error %s", op, out_bill_no, type(exc).__name__)
            raise PayUnknown("NETWORK_ERROR", type(exc).__name__) from exc
        except Exception as exc:
            # The library raises bare Exception for an answer whose signature does not verify.
            log.warning("wechatpay %s %s: %s", op, out_bill_no, exc)
            raise PayUnknown("BAD_RESPONSE", str(exc)[:200]) from exc
        log.debug(
            "wechatpay %s %s: HTTP %s in %.3fs", op, out_bill_no, status, time.monotonic() - started
        )
        return _decode(op, out_bill_no, status, body)

    # -- notifications -------------------------------------------------------------------------

    def verify_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> dict[str, Any]:
        """The decrypted resource of a genuine MCHTRANSFER.BILL.FINISHED notification.

        Checks the signature type, the key named by Wechatpay-Serial, the RSA-SHA256 signature over
        the raw body, and the timestamp's age; then decrypts ``resource`` with the APIv3 key. The
        envelope id is added as ``_notification_id``. Anything else raises CallbackRejected.
        """
        h = {str(k).lower(): str(v) for k, v in headers.items()}
        if h.get("wechatpay-signature-type") != crypto.SIGNATURE_TYPE:
            raise CallbackRejected("unsupported or missing Wechatpay-Signature-Type")
        key = self._platform_keys.get(h.get("wechatpay-serial", ""))
        if key is None:
            raise CallbackRejected("unknown Wechatpay-Serial")
        stamp, nonce_str = h.get("wechatpay-timestamp", ""), h.get("wechatpay-nonce", "")
        if not stamp.isdigit() or not nonce_str:
            raise CallbackRejected("missing timestamp or nonce")
        moment = (now or datetime.now(UTC)).timestamp()
        if abs(moment - int(stamp)) > self.settings.callback_max_skew:
            raise CallbackRejected("stale or future timestamp")
        message = crypto.response_message(stamp, nonce_str, body)
        if not crypto.verify(key, message, h.get("wechatpay-signature", "")):
            raise CallbackRejected("bad signature")
        return self._open_envelope(body)

    def _open_envelope(self, body: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(body)
        except ValueError:
            raise CallbackRejected("body is not JSON") from None
        if not isinstance(envelope, dict) or envelope.get("event_type") != FINISHED_EVENT:
            raise CallbackRejected("not a MCHTRANSFER.BILL.FINISHED notification")
        resource = envelope.get("resource")
        if envelope.get("resource_type") != "encrypt-resource" or not isinstance(resource, dict):
            raise CallbackRejected("not an encrypted resource")
        try:
            data = json.loads(crypto.aes_gcm_decrypt(self.settings.apiv3_key, resource))
        except (crypto.CryptoError, ValueError):
            raise CallbackRejected("resource does not decrypt with our APIv3 key") from None
        if not isinstance(data, dict) or not data.get("out_bill_no"):
            raise CallbackRejected("resource has no out_bill_no")
        data["_notification_id"] = envelope.get("id")
        log.info("wechatpay notification for bill %s: %s", data["out_bill_no"], data.get("state"))
        return data


def _check_number(out_bill_no: str) -> None:
    if not out_bill_no or not out_bill_no.isascii() or not out_bill_no.isalnum():
        raise PayRejected("PARAM_ERROR", "out_bill_no must be letters and digits")


def _check_create(
    out_bill_no: str, openid: str, amount_fen: int, remark: str, user_name: str | None
) -> None:
    """Refuse locally what WeChat would refuse (and what the library would raise bare for)."""
    _check_number(out_bill_no)
    if not openid:
        raise PayRejected("PARAM_ERROR", "openid is required")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise PayRejected("PARAM_ERROR", "amount_fen must be a positive integer")
    if not remark:
        raise PayRejected("PARAM_ERROR", "remark is required")
    if amount_fen >= USER_NAME_REQUIRED_FEN and not user_name:
        raise PayRejected("PARAM_ERROR", "user_name is required from 2,000 yuan")


def _decode(op: str, out_bill_no: str, status: int, body: Any) -> dict:
    """The JSON of a 2xx answer, or the error WeChat's status and code stand for."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if 200 <= status < 300:
        if not isinstance(data, dict):
            raise PayUnknown("BAD_RESPONSE", "answer is not a JSON object", status)
        return data
    code = str(data.get("code") or "") if isinstance(data, dict) else ""
    message = str(data.get("message") or "") if isinstance(data, dict) else ""
    log.warning("wechatpay %s %s: HTTP %s %s", op, out_bill_no, status, code or "(no code)")
    if status >= 500 or status < 400 or status == 408 or code == "SYSTEM_ERROR":
        raise PayUnknown(code or f"HTTP_{status}", message, status)
    if status == 404 or code == "NOT_FOUND":
        raise BillNotFound(code or "NOT_FOUND", message, status)
    retry = status == 429 or code in {"FREQUENCY_LIMITED", "NOT_ENOUGH"}
    raise PayRejected(code or f"HTTP_{status}", message, status, retry_later=retry)
