"""A WeChat Pay v3 emulator for merchant transfers (商家转账, user-confirm mode).

It implements the documented HTTP protocol the client uses: request signatures checked with the
merchant's public key, answers signed with the platform key, WeChat's error codes, idempotent
creation by ``out_bill_no``, the user's confirmation (a page for people and a JSON hook), the
24-hour expiry, cancellation and MCHTRANSFER.BILL.FINISHED notifications with WeChat's retry
schedule. Fault injection makes the ambiguous cases (timeouts, 5xx, lost or repeated callbacks)
cheap and repeatable. State lives in SQLite (:mod:`wechat.pay.emulator_state`) so every process
sees the same emulator. Development and tests only: production refuses WECHATPAY_EMULATOR.

See docs/wechat-pay-emulator.md for the endpoints, hooks and fault kinds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, render_template, request

from wechat.pay import crypto
from wechat.pay.client import BILLS_PATH, FINISHED_EVENT, USER_NAME_REQUIRED_FEN, emulator_keys_dir
from wechat.pay.emulator_state import (
    BILL_FAULTS,
    CALLBACK_FAULTS,
    EXPIRED_REASON,
    FAIL_REASONS,
    REQUEST_FAULTS,
    EmulatorError,
    EmulatorState,
    Faults,
    draw,
    pick,
)
from wechat.pay.keys import EmulatorKeys, load_or_create

log = logging.getLogger(__name__)

CHINA_TZ = timezone(timedelta(hours=8))
MIN_AMOUNT_FEN = 10  # WeChat: 单笔转账最低 0.1 元
OUT_BILL_NO = re.compile(r"[0-9A-Za-z]{5,32}")
# Scenes the emulated merchant has opened: 现金营销, 佣金报酬, 企业报销.
SCENES = ("1000", "1005", "1006")
# Report fields WeChat requires per scene (transfer_scene_report_infos info_type values).
SCENE_REPORT_TYPES = {"1000": ("活动名称", "奖励说明"), "1005": ("岗位类型", "报酬说明")}
# The request timestamp must be this close to WeChat's clock.
REQUEST_MAX_SKEW = 300
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def rfc3339(ts: float) -> str:
    """WeChat's time format: RFC 3339 in China time, to the second."""
    return datetime.fromtimestamp(ts, CHINA_TZ).isoformat(timespec="seconds")


def _param_error(message: str) -> EmulatorError:
    return EmulatorError(400, "PARAM_ERROR", message)


class WeChatPayEmulator:
    """The emulator: its state, keys, HTTP app (WSGI) and the hooks tests and scripts use."""

    def __init__(
        self,
        db_path: str | Path,
        keys: EmulatorKeys,
        *,
        mchid: str,
        appids: Iterable[str],
        merchant_name: str = "模拟商户",
        max_amount_fen: int = 2_000_000,
        callback_timeout: float = 3.0,
    ) -> None:
        self.state = EmulatorState(db_path)
        self.keys = keys
        self.mchid = mchid
        self.appids = frozenset(appids)
        self.merchant_name = merchant_name
        self.max_amount_fen = max_amount_fen
        self.callback_timeout = callback_timeout
        self._merchant_public = crypto.load_public_key(keys.merchant_public_pem)
        self._platform_private = crypto.load_private_key(keys.platform_private_pem)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._stop = threading.Event()
        self.app = _build_app(self)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    # -- test and script hooks -----------------------------------------------------------------

    def set_faults(
        self,
        rate: float = 0.0,
        kinds: Iterable[str] = (),
        *,
        seed: int = 0,
        timeout_seconds: float = 6.0,
        auto_confirm: bool = False,
    ) -> Faults:
        """Inject faults from now on (every process); ``set_faults()`` turns them off."""
        faults = Faults(float(rate), list(kinds), int(seed), float(timeout_seconds), auto_confirm)
        self.state.set_faults(faults)
        return faults

    def now(self) -> float:
        """Emulator time (seconds since the epoch, moved forward by advance_clock)."""
        return self.state.now()

    def advance_clock(self, seconds: float) -> float:
        """Make time pass, then expire what became due; returns the new emulator time."""
        now = self.state.advance_clock(seconds)
        self.expire_due()
        return now

    def reset(self) -> None:
        """Forget all bills, notifications, faults and clock changes."""
        self.state.reset()

    def bill(self, out_bill_no: str) -> dict[str, Any] | None:
        """A bill as the query API shows it, or None."""
        row = self.state.bill(out_bill_no)
        return self.bill_answer(row) if row else None

    def bills(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest bills, as the query API shows them."""
        return [self.bill_answer(r) for r in self.state.bills(limit)]

    def notifications(self, out_bill_no: str | None = None) -> list[dict[str, Any]]:
        """Queued notifications with their delivery status (bodies stay encrypted)."""
        keep = ("seq", "nid", "out_bill_no", "url", "status", "fault", "attempts", "last_result")
        return [{k: n[k] for k in keep} for n in self.state.notifications(out_bill_no)]

    def expire_due(self) -> int:
        """Fail bills unconfirmed for 24 h (OVERDUE_CLOSE) and settle confirmed ones."""
        count = 0
        for out_bill_no, state in self.state.due_bills(self.state.now()):
            try:
                if state == "WAIT_USER_CONFIRM":
                    self.state.transition(
                        out_bill_no,
                        {"WAIT_USER_CONFIRM"},
                        "FAIL",
                        fail_reason=EXPIRED_REASON,
                        notify=self._notifier(),
                    )
                else:
                    self._settle(out_bill_no)
                count += 1
            except (EmulatorError, KeyError):
                continue  # another thread or process moved it first
        return count

    def confirm(self, package: str | None = None, out_bill_no: str | None = None) -> dict:
        """The user confirms receipt (wx.requestMerchantTransfer succeeded): TRANSFERING, then
        SUCCESS, or FAIL when a ``fail`` fault was drawn for the bill."""
        self.expire_due()
        row = self._find(package, out_bill_no)
        if row["state"] != "WAIT_USER_CONFIRM":
            raise EmulatorError(400, "INVALID_REQUEST", "该笔转账已失效或已处理")
        self.state.transition(row["out_bill_no"], {"WAIT_USER_CONFIRM"}, "TRANSFERING")
        return self.bill_answer(self._settle(row["out_bill_no"]))

    def _find(self, package: str | None, out_bill_no: str | None) -> dict[str, Any]:
        row = None
        if package:
            row = self.state.bill_by("package_info", package)
        elif out_bill_no:
            row = self.state.bill(out_bill_no)
        if row is None:
            raise EmulatorError(404, "NOT_FOUND", "转账单不存在")
        return row

    def _settle(self, out_bill_no: str) -> dict[str, Any]:
        """Finish a confirmed transfer (the emulator pays at once)."""
        row = self.state.bill(out_bill_no)
        if row is None or row["state"] != "TRANSFERING":
            return row or {}
        seed = self.state.faults().seed
        final, reason = "SUCCESS", None
        if row["fault_fail"]:
            final = "FAIL"
            reason = FAIL_REASONS[int(draw(seed, "reason", out_bill_no) * len(FAIL_REASONS))]
        try:
            return self.state.transition(
                out_bill_no, {"TRANSFERING"}, final, fail_reason=reason, notify=self._notifier()
            )
        except EmulatorError:
            return self.state.bill(out_bill_no) or {}

    # -- notifications -------------------------------------------------------------------------

    def _notifier(self) -> Callable[[Any, dict[str, Any]], None]:
        faults = self.state.faults()

        def notify(conn: Any, row: dict[str, Any]) -> None:
            nid = str(uuid.uuid4())
            body = self.build_notification(row, nid=nid).decode()
            self.state.queue_notification(conn, row, nid, body, faults)

        return notify

    def resource(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The decrypted content of a bill's finished notification."""
        data = {
            "out_bill_no": row["out_bill_no"],
            "transfer_bill_no": row["transfer_bill_no"],
            "state": row["state"],
            "mch_id": row["mch_id"],
            "transfer_amount": row["transfer_amount"],
            "openid": row["openid"],
            "create_time": rfc3339(row["created_at"]),
            "update_time": rfc3339(row["updated_at"]),
        }
        if row.get("fail_reason"):
            data["fail_reason"] = row["fail_reason"]
        return data

    def build_notification(
        self, row: Mapping[str, Any], *, nid: str | None = None, apiv3_key: str | None = None
    ) -> bytes:
        """The JSON body of a MCHTRANSFER.BILL.FINISHED notification for ``row``."""
        sealed = crypto.aes_gcm_encrypt(
            apiv3_key or self.keys.apiv3_key,
            crypto.canonical_json(self.resource(row)),
            "mch_payment",
        )
        envelope = {
            "id": nid or str(uuid.uuid4()),
            "create_time": rfc3339(self.state.now()),
            "resource_type": "encrypt-resource",
            "event_type": FINISHED_EVENT,
            "summary": "商家转账单据终态通知",
            "resource": {"original_type": "mch_payment", **sealed},
        }
        return crypto.canonical_json(envelope)

    def sign_headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce_str: str | None = None,
        serial: str | None = None,
        private_key_pem: str | None = None,
    ) -> dict[str, str]:
        """WeChat Pay's signature headers for ``body`` (tests override parts to forge them)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce_str = nonce_str or crypto.nonce()
        key = self._platform_private
        if private_key_pem is not None:
            key = crypto.load_private_key(private_key_pem)
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce_str,
            "Wechatpay-Signature": crypto.sign(
                key, crypto.response_message(stamp, nonce_str, body)
            ),
            "Wechatpay-Serial": serial or self.keys.public_key_id,
            "Wechatpay-Signature-Type": crypto.SIGNATURE_TYPE,
        }

    def deliver_callbacks(self, max_items: int | None = None) -> int:
        """POST due notifications to their notify_url; returns how many got a 2xx.

        A non-2xx answer or an error is retried later on WeChat's schedule (15 s, 15 s, 30 s,
        3 min, ... about 24 h in all), in emulator time.
        """
        rows = self.state.claim_notifications(max_items)
        faults = self.state.faults()
        if "out_of_order_callback" in faults.kinds_of(CALLBACK_FAULTS):
            random.Random(faults.seed + len(rows)).shuffle(rows)
        delivered = 0
        with requests.Session() as http:
            http.trust_env = False  # local receivers; no proxy from the environment
            for row in rows:
                body = row["body"].encode()
                headers = {"Content-Type": "application/json", **self.sign_headers(body)}
                try:
                    resp = http.post(
                        row["url"], data=body, headers=headers, timeout=self.callback_timeout
                    )
                    ok, result = 200 <= resp.status_code < 300, f"HTTP {resp.status_code}"
                except requests.RequestException as exc:
                    ok, result = False, type(exc).__name__
                self.state.record_delivery(row["seq"], ok, result)
                delivered += ok
        return delivered

    def start_delivery_thread(self, interval: float = 2.0) -> threading.Thread:
        """Deliver notifications and expire bills every ``interval`` seconds (once per process)."""
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._delivery_loop,
                    args=(interval,),
                    name="wechatpay-emulator-delivery",
                    daemon=True,
                )
                self._thread.start()
            return self._thread

    def stop_delivery_thread(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread, if running."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _delivery_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.expire_due()
                self.deliver_callbacks(max_items=200)
            except Exception:
                log.exception("wechatpay emulator delivery round failed")

    # -- the API -------------------------------------------------------------------------------

    def check_signature(self) -> None:
        """Verify the merchant's Authorization header on the current request (401 SIGN_ERROR)."""
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        fields = dict(_AUTH_PARAM.findall(params))
        if scheme != crypto.AUTH_SCHEME or not {"mchid", "nonce_str", "signature"} <= set(fields):
            raise EmulatorError(401, "SIGN_ERROR", "Authorization 格式错误")
        if fields["mchid"] != self.mchid:
            raise EmulatorError(401, "SIGN_ERROR", "商户号与签名不匹配")
        if fields.get("serial_no") != self.keys.merchant_serial_no:
            raise EmulatorError(401, "SIGN_ERROR", "商户证书序列号错误")
        stamp = fields.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > REQUEST_MAX_SKEW:
            raise EmulatorError(401, "SIGN_ERROR", "请求时间戳已过期")
        path = request.path
        if request.query_string:
            path += "?" + request.query_string.decode()
        message = crypto.request_message(
            request.method, path, stamp, fields["nonce_str"], request.get_data()
        )
        if not crypto.verify(self._merchant_public, message, fields["signature"]):
            raise EmulatorError(401, "SIGN_ERROR", "签名错误")

    def answer(self, status: int, payload: Mapping[str, Any]) -> Response:
        """A JSON answer signed with the platform key, as WeChat Pay sends them."""
        body = crypto.canonical_json(dict(payload))
        resp = Response(body, status=status, content_type="application/json; charset=utf-8")
        resp.headers.update(self.sign_headers(body))
        resp.headers["Request-ID"] = secrets.token_hex(16)
        return resp

    def with_faults(self, op: str, out_bill_no: str, apply: Callable[[], Response]) -> Response:
        """Run ``apply`` (the real work) under the request fault drawn for this call, if any."""
        faults = self.state.faults()
        group = (
            REQUEST_FAULTS
            if op == "create"
            else tuple(k for k in REQUEST_FAULTS if k != "not_enough")
        )
        fault, attempt = None, 0
        if faults.kinds_of(group):
            attempt = self.state.next_attempt(op, out_bill_no)
            fault = pick(faults, group, op, out_bill_no, attempt)
        if fault == "frequency_limited":
            raise EmulatorError(429, "FREQUENCY_LIMITED", "频率超限，请降低请求频率后原单重试")
        if fault == "not_enough":
            raise EmulatorError(403, "NOT_ENOUGH", "商户余额不足，请充值后原单重试")
        applied = fault not in {"http500", "system_error"}
        if not applied:
            applied = draw(faults.seed, op, out_bill_no, attempt, "applied") < 0.5
        answer = apply() if applied else None
        if fault is not None:
            log.info(
                "wechatpay emulator: %s on %s %s (applied=%s)", fault, op, out_bill_no, applied
            )
        if fault == "timeout":
            time.sleep(faults.timeout_seconds)  # the client has given up by now
        elif fault == "system_error":
            return self.answer(
                500, {"code": "SYSTEM_ERROR", "message": "系统错误，请使用相同参数重试"}
            )
        elif fault == "http500":
            if draw(faults.seed, op, out_bill_no, attempt, "json") < 0.5:
                return Response("<html><body>500 Internal Server Error</body></html>", 500)
            return Response('{"code":"INTERNAL_ERROR"}', 500, content_type="application/json")
        assert answer is not None
        return answer

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create the bill (or find the identical one already created): the create answer."""
        fields = self.validate_create(body)
        faults = self.state.faults()
        now = self.state.now()
        out_bill_no = fields["out_bill_no"]
        bill_fault = pick(faults, BILL_FAULTS, "bill", out_bill_no)
        row = {
            **fields,
            "transfer_bill_no": f"1330{int(now)}{secrets.randbelow(10**22):022d}",
            "mch_id": self.mchid,
            "package_info": base64.b64encode(b"\x00\x10\x50" + secrets.token_bytes(69)).decode(),
            "state": "WAIT_USER_CONFIRM",
            "fault_no_confirm": int(bill_fault == "no_confirm"),
            "fault_fail": int(bill_fault == "fail"),
            "created_at": now,
            "updated_at": now,
        }
        self.expire_due()
        stored, created = self.state.insert_bill(row)
        if stored["request_hash"] != row["request_hash"]:
            raise EmulatorError(400, "INVALID_REQUEST", "单号已存在但信息不一致，请查单后比较确认")
        answer = {
            "out_bill_no": out_bill_no,
            "transfer_bill_no": stored["transfer_bill_no"],
            "create_time": rfc3339(stored["created_at"]),
            "state": stored["state"],
        }
        if stored["state"] == "WAIT_USER_CONFIRM":
            answer["package_info"] = stored["package_info"]
        if stored.get("fail_reason"):
            answer["fail_reason"] = stored["fail_reason"]
        if created and faults.auto_confirm and not stored["fault_no_confirm"]:
            self.confirm(out_bill_no=out_bill_no)
        return answer

    def validate_create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """WeChat's checks on a create request; the columns to store (with a content hash)."""
        out_bill_no = body.get("out_bill_no")
        if not isinstance(out_bill_no, str) or not OUT_BILL_NO.fullmatch(out_bill_no):
            raise _param_error("商户单号格式错误，只能由数字、大小写字母组成，长度5-32位")
        appid = body.get("appid")
        if not isinstance(appid, str) or not appid:
            raise _param_error("appid 为必填参数")
        if appid not in self.appids:
            raise EmulatorError(400, "INVALID_REQUEST", "appid 与商户号不存在绑定关系")
        scene = body.get("transfer_scene_id")
        if not isinstance(scene, str) or not scene:
            raise _param_error("转账场景ID为必填参数")
        if scene not in SCENES:
            raise EmulatorError(403, "NO_AUTH", "商户未开通该转账场景")
        openid = body.get("openid")
        if not isinstance(openid, str) or not 0 < len(openid) <= 64 or not openid.isascii():
            raise _param_error("收款用户 openid 格式错误")
        amount = body.get("transfer_amount")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise _param_error("转账金额必须为整数，单位为分")
        if not MIN_AMOUNT_FEN <= amount <= self.max_amount_fen:
            raise EmulatorError(400, "INVALID_REQUEST", "超过单笔转账上下限，核实产品设置是否准确")
        remark = body.get("transfer_remark")
        if not isinstance(remark, str) or not 0 < len(remark) <= 32:
            raise _param_error("转账备注为必填参数，最多32个字符")
        name_digest = self._check_user_name(body.get("user_name"), amount)
        self._check_report_infos(scene, body.get("transfer_scene_report_infos"))
        notify_url = body.get("notify_url")
        if notify_url is not None and (
            not isinstance(notify_url, str)
            or not notify_url.startswith(("http://", "https://"))
            or len(notify_url) > 256
        ):
            raise _param_error("通知地址格式错误")
        # What must match when the same number is sent again (the money, the payee, the words).
        content = [appid, openid, amount, remark, scene, name_digest]
        return {
            "out_bill_no": out_bill_no,
            "appid": appid,
            "openid": openid,
            "transfer_amount": amount,
            "transfer_remark": remark,
            "transfer_scene_id": scene,
            "notify_url": notify_url,
            "request_hash": hashlib.sha256(json.dumps(content).encode()).hexdigest(),
        }

    def _check_user_name(self, user_name: Any, amount: int) -> str:
        """The digest of the decrypted name ("" without one); the emulator never stores names."""
        if user_name is None:
            if amount >= USER_NAME_REQUIRED_FEN:
                raise _param_error("转账金额>=2,000元时，收款用户姓名为必填参数")
            return ""
        if request.headers.get("Wechatpay-Serial") != self.keys.public_key_id:
            raise _param_error("Wechatpay-Serial 与加密敏感信息所用的微信支付公钥ID不符")
        if not isinstance(user_name, str):
            raise _param_error("收款用户姓名格式错误")
        try:
            plain = crypto.oaep_decrypt(self._platform_private, user_name)
        except crypto.CryptoError:
            raise _param_error("收款用户姓名解密失败，请检查加密所用的公钥") from None
        return hashlib.sha256(plain.encode()).hexdigest()

    @staticmethod
    def _check_report_infos(scene: str, infos: Any) -> None:
        infos = infos if infos is not None else []
        if not isinstance(infos, list) or not all(
            isinstance(i, dict)
            and isinstance(i.get("info_type"), str)
            and isinstance(i.get("info_content"), str)
            and 0 < len(i["info_content"]) <= 32
            for i in infos
        ):
            raise _param_error("转账场景报备信息格式错误")
        given = {i["info_type"] for i in infos}
        if not set(SCENE_REPORT_TYPES.get(scene, ())) <= given:
            raise _param_error("需传入转账场景报备信息，请检查")

    def bill_answer(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The query API's view of a bill."""
        data = {
            "mch_id": row["mch_id"],
            "out_bill_no": row["out_bill_no"],
            "transfer_bill_no": row["transfer_bill_no"],
            "appid": row["appid"],
            "state": row["state"],
            "transfer_amount": row["transfer_amount"],
            "transfer_remark": row["transfer_remark"],
            "openid": row["openid"],
            "create_time": rfc3339(row["created_at"]),
            "update_time": rfc3339(row["updated_at"]),
        }
        if row.get("fail_reason"):
            data["fail_reason"] = row["fail_reason"]
        return data

    def cancel(self, out_bill_no: str) -> dict[str, Any]:
        """Cancel before the user confirmed; WeChat answers CANCELING and finishes later (here:
        at once, so the next query shows CANCELLED)."""
        self.expire_due()
        row = self._find(None, out_bill_no)
        if row["state"] not in {"CANCELING", "CANCELLED"}:
            row = self.state.transition(
                out_bill_no,
                {"WAIT_USER_CONFIRM", "ACCEPTED", "PROCESSING"},
                "CANCELLED",
                notify=self._notifier(),
            )
            state = "CANCELING"
        else:
            state = row["state"]
        return {
            "out_bill_no": out_bill_no,
            "transfer_bill_no": row["transfer_bill_no"],
            "state": state,
            "update_time": rfc3339(row["updated_at"]),
        }


def _json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise _param_error("请求体不是合法的JSON对象")
    return body


def _build_app(emu: WeChatPayEmulator) -> Flask:
    """The emulator's routes: the API, the confirm page, and the test hooks."""
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(EmulatorError)
    def on_error(exc: EmulatorError) -> Response:
        return emu.answer(exc.status, {"code": exc.code, "message": exc.message})

    @app.post(BILLS_PATH)
    def create_bill():
        emu.check_signature()
        body = _json_body()
        number = str(body.get("out_bill_no") or "")
        return emu.with_faults("create", number, lambda: emu.answer(200, emu.create(body)))

    def query(row_of: Callable[[], dict | None], number: str) -> Response:
        emu.check_signature()

        def apply() -> Response:
            emu.expire_due()
            row = row_of()
            if row is None:
                raise EmulatorError(404, "NOT_FOUND", "记录不存在")
            return emu.answer(200, emu.bill_answer(row))

        return emu.with_faults("query", number, apply)

    @app.get(BILLS_PATH + "/out-bill-no/<out_bill_no>")
    def query_by_out_no(out_bill_no: str):
        return query(lambda: emu.state.bill(out_bill_no), out_bill_no)

    @app.get(BILLS_PATH + "/transfer-bill-no/<transfer_bill_no>")
    def query_by_transfer_no(transfer_bill_no: str):
        return query(
            lambda: emu.state.bill_by("transfer_bill_no", transfer_bill_no), transfer_bill_no
        )

    @app.post(BILLS_PATH + "/out-bill-no/<out_bill_no>/cancel")
    def cancel_bill(out_bill_no: str):
        emu.check_signature()
        return emu.with_faults(
            "cancel", out_bill_no, lambda: emu.answer(200, emu.cancel(out_bill_no))
        )

    _add_confirm_page(app, emu)
    _add_hooks(app, emu)
    return app


def _add_confirm_page(app: Flask, emu: WeChatPayEmulator) -> None:
    def page(package: str, message: str | None = None, status: int = 200) -> tuple[str, int]:
        emu.expire_due()
        row = emu.state.bill_by("package_info", package) if package else None
        html = render_template(
            "wechatpay_emulator/confirm.html",
            bill=row,
            package=package,
            yuan=f"{row['transfer_amount'] / 100:.2f}" if row else "",
            merchant=emu.merchant_name,
            mchid=emu.mchid,
            message=message,
        )
        return html, status if row or message else 404

    @app.get("/confirm")
    def confirm_page():
        """The page WeChat shows after wx.requestMerchantTransfer (确认收款)."""
        return page(request.args.get("package", ""))

    @app.post("/confirm")
    def confirm_submit():
        package = request.form.get("package", "")
        if request.form.get("action") == "decline":
            return page(package, "你已暂不收款，可稍后在24小时内再次领取。")
        try:
            emu.confirm(package=package)
        except EmulatorError as exc:
            return page(package, exc.message, 400)
        return page(package, "收款成功，已存入零钱。")


def _add_hooks(app: Flask, emu: WeChatPayEmulator) -> None:
    @app.post("/_emulator/confirm")
    def hook_confirm():
        body = request.get_json(force=True, silent=True) or {}
        return emu.confirm(package=body.get("package"), out_bill_no=body.get("out_bill_no"))

    @app.route("/_emulator/clock", methods=["GET", "POST"])
    def hook_clock():
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            emu.advance_clock(float(body.get("advance_seconds") or 0))
        now = emu.now()
        return {"now": rfc3339(now), "timestamp": now}

    @app.route("/_emulator/faults", methods=["GET", "POST"])
    def hook_faults():
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            allowed = {"rate", "kinds", "seed", "timeout_seconds", "auto_confirm"}
            try:
                emu.set_faults(**{k: v for k, v in body.items() if k in allowed})
            except (TypeError, ValueError) as exc:
                raise _param_error(str(exc)) from None
        return vars(emu.state.faults())

    @app.post("/_emulator/expire")
    def hook_expire():
        return {"expired": emu.expire_due()}

    @app.post("/_emulator/deliver")
    def hook_deliver():
        body = request.get_json(force=True, silent=True) or {}
        return {"delivered": emu.deliver_callbacks(body.get("max_items"))}

    @app.get("/_emulator/bills")
    def hook_bills():
        return {"bills": emu.bills(int(request.args.get("limit", 200)))}

    @app.get("/_emulator/notifications")
    def hook_notifications():
        return {"notifications": emu.notifications(request.args.get("out_bill_no"))}

    @app.post("/_emulator/reset")
    def hook_reset():
        emu.reset()
        return {"reset": True}


def emulator_from_config(config: Mapping[str, Any]) -> WeChatPayEmulator:
    """The emulator for the app's settings: its state file, generated keys, merchant and apps."""
    appids = {
        config.get("WECHATPAY_APPID") or config.get("WECHAT_MINI_APP_ID") or "",
        config.get("WECHAT_MINI_APP_ID") or "",
        config.get("WECHAT_MP_APP_ID") or "",
    } - {""}
    return WeChatPayEmulator(
        config["WECHATPAY_EMULATOR_DB"],
        load_or_create(emulator_keys_dir(config)),
        mchid=config["WECHATPAY_MCHID"],
        appids=appids,
        merchant_name="智慧城管",
    )
