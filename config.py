"""Configuration classes, read from environment variables.

Every setting has a default that makes the embedded mode work with nothing set: SQLite and uploads
under ``instance/``, the WeChat emulator. ``ProductionConfig.validate`` refuses unsafe values.
The README lists every variable; keep it in step with this file.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production
# 12345 hotline: the shared secret of the embedded emulator only (refused in production).
HOTLINE_EMULATOR_SECRET = "emulator-12345-shared-secret"  # noqa: S105
# A production SECRET_KEY with fewer different characters was typed, not generated ("k" * 48).
MIN_SECRET_KEY_DISTINCT = 10


def env_str(name: str, default: str = "") -> str:
    """A string variable; empty counts as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    """An integer variable; a malformed value is a startup error, not a silent default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable: 1/true/yes/on or 0/false/no/off."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise RuntimeError(f"{name} must be a boolean, got {raw!r}")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete for the chosen environment."""


class Config:
    """Settings shared by every environment, read from the environment when instantiated."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    # The feature packages the shell plugs in (each has an init_app), in registration order.
    FEATURES = ("wechat", "reports", "shops", "services_nearby")

    def __init__(self) -> None:
        instance_dir = Path(env_str("INSTANCE_DIR", str(BASE_DIR / "instance")))
        self.INSTANCE_DIR = str(instance_dir)
        self.SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
        self.PUBLIC_BASE_URL = env_str(
            "PUBLIC_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}"
        ).rstrip("/")

        self.SQLALCHEMY_DATABASE_URI = env_str(
            "DATABASE_URL", f"sqlite:///{instance_dir / 'zhcg.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        # A request whose transaction lost a deadlock or a Galera certification (1213) runs
        # again this many times before the client gets 503 database_busy (app/dbretry.py).
        self.DB_DEADLOCK_RETRIES = env_int("DB_DEADLOCK_RETRIES", 2)
        self.REDIS_URL = env_str("REDIS_URL")

        # Request bodies (uploads included); larger bodies get 413.
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 64 * 1024 * 1024)

        self.SESSION_COOKIE_NAME = "zhcg_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.PERMANENT_SESSION_LIFETIME = env_int("SESSION_LIFETIME_HOURS", 12) * 3600

        # Response headers and request limits (app/security.py). HSTS: seconds browsers must use
        # HTTPS only; 0 sends no header (production: a year when PUBLIC_BASE_URL is https).
        self.HSTS_MAX_AGE = env_int("HSTS_MAX_AGE", 0)
        # Longer request targets get 414 uri_too_long from the app (gunicorn's own limit,
        # limit_request_line in gunicorn.conf.py, is kept above this).
        self.MAX_URI_LENGTH = env_int("MAX_URI_LENGTH", 4096)
        # Swagger UI and the OpenAPI spec at /api/docs and /api/openapi.json (off in production).
        self.API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", True)

        # CSRF: checked explicitly on forms and cookie-authenticated API writes (app/security.py).
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.WTF_CSRF_TIME_LIMIT = None

        # Tokens and staff sign-in.
        self.CITIZEN_TOKEN_TTL_HOURS = env_int("CITIZEN_TOKEN_TTL_HOURS", 24 * 30)
        self.STAFF_TOKEN_TTL_HOURS = env_int("STAFF_TOKEN_TTL_HOURS", 12)
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
        # argon2id cost (argon2-cffi's defaults: 3 passes over 64 MiB).
        self.ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
        self.ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 65536)

        # Rate limits (Flask-Limiter): in Redis, shared by every worker, when REDIS_URL is set.
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_PUBLIC = env_str("RATELIMIT_PUBLIC", "120/minute")
        self.RATELIMIT_LOGIN = env_str("RATELIMIT_LOGIN", "20/minute")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_KEY_PREFIX = env_str("RATELIMIT_KEY_PREFIX", "zhcg")
        # Redis down or silent: limits count per process (Flask-Limiter's in-memory fallback),
        # the WeChat token cache lives in the process. Every Redis call waits at most
        # REDIS_TIMEOUT_MS; after a failure Redis is left alone for REDIS_RETRY_SECONDS.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.REDIS_TIMEOUT_MS = env_int("REDIS_TIMEOUT_MS", 200)
        self.REDIS_RETRY_SECONDS = env_int("REDIS_RETRY_SECONDS", 5)

        # Photo storage (app/storage).
        self.STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")  # local | s3
        self.UPLOAD_DIR = env_str("UPLOAD_DIR", str(instance_dir / "uploads"))
        self.S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
        self.S3_BUCKET = env_str("S3_BUCKET")
        self.S3_REGION = env_str("S3_REGION", "us-east-1")
        self.S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID")
        self.S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY")
        self.S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")
        # The endpoint browsers reach, when the app talks to the store on an internal address.
        self.S3_PUBLIC_ENDPOINT_URL = env_str("S3_PUBLIC_ENDPOINT_URL")
        # One S3 call gives up within S3_MAX_ATTEMPTS x (connect + read timeout): 24 s by default,
        # under gunicorn's 30 s worker timeout (a killed worker is a 502, not our 503).
        self.S3_CONNECT_TIMEOUT = env_int("S3_CONNECT_TIMEOUT", 2)
        self.S3_READ_TIMEOUT = env_int("S3_READ_TIMEOUT", 10)
        self.S3_MAX_ATTEMPTS = env_int("S3_MAX_ATTEMPTS", 2)
        # A store that could not be reached or timed out is left alone (calls fail at once) for
        # STORAGE_RETRY_SECONDS; an upload it fails is 503 with Retry-After STORAGE_RETRY_AFTER.
        self.STORAGE_RETRY_SECONDS = env_int("STORAGE_RETRY_SECONDS", 5)
        self.STORAGE_RETRY_AFTER = env_int("STORAGE_RETRY_AFTER", 30)
        self.MEDIA_MAX_BYTES = env_int("MEDIA_MAX_BYTES", 10 * 1024 * 1024)
        self.MEDIA_MAX_PIXELS = env_int("MEDIA_MAX_PIXELS", 40_000_000)
        self.MEDIA_URL_TTL_SECONDS = env_int("MEDIA_URL_TTL_SECONDS", 300)
        # Evidence videos (app/media/video.py): MP4/MOV, remuxed without metadata. Requests carry
        # the whole file, so MAX_CONTENT_LENGTH must stay above MEDIA_VIDEO_MAX_BYTES.
        self.MEDIA_VIDEO_MAX_BYTES = env_int("MEDIA_VIDEO_MAX_BYTES", 30 * 1024 * 1024)
        self.MEDIA_VIDEO_MAX_SECONDS = env_int("MEDIA_VIDEO_MAX_SECONDS", 10)
        self.MEDIA_VIDEO_MAX_PIXELS = env_int("MEDIA_VIDEO_MAX_PIXELS", 1920 * 1920)

        # WeChat (only wechat/ reads these).
        self.WECHAT_EMULATOR = env_bool("WECHAT_EMULATOR", True)
        # Empty: the real API, or the in-process emulator when WECHAT_EMULATOR is on.
        self.WECHAT_API_BASE_URL = env_str("WECHAT_API_BASE_URL")
        # Empty: the real authorize page, or {PUBLIC_BASE_URL}/_wechat/connect/ with the emulator.
        self.WECHAT_OAUTH_BASE_URL = env_str("WECHAT_OAUTH_BASE_URL")
        self.WECHAT_HTTP_TIMEOUT = env_int("WECHAT_HTTP_TIMEOUT", 5)
        self.WECHAT_MINI_APP_ID = env_str("WECHAT_MINI_APP_ID", "wxminiemulator00001")
        self.WECHAT_MINI_APP_SECRET = env_str("WECHAT_MINI_APP_SECRET", "emulator-mini-secret")
        self.WECHAT_MP_APP_ID = env_str("WECHAT_MP_APP_ID", "wxmpemulator0000001")
        self.WECHAT_MP_APP_SECRET = env_str("WECHAT_MP_APP_SECRET", "emulator-mp-secret")
        self.WECHAT_MP_TOKEN = env_str("WECHAT_MP_TOKEN", "emulator-mp-token")
        self.WECHAT_MP_AES_KEY = env_str("WECHAT_MP_AES_KEY")  # 43 chars; empty = plain mode only
        self.WECHAT_MP_WELCOME = env_str(
            "WECHAT_MP_WELCOME",
            "欢迎关注智慧城管！发现井盖破损、垃圾堆积、占道经营等问题，点击菜单“我要上报”即可反映，"
            "我们会及时派遣处置并告知您结果。",
        )
        # The public-account callback refuses a timestamp further than this from our clock, and
        # remembers every nonce for twice as long (replays are refused).
        self.WECHAT_MP_MAX_SKEW_SECONDS = env_int("WECHAT_MP_MAX_SKEW_SECONDS", 300)
        self.WECHAT_OAUTH_SCOPE = env_str("WECHAT_OAUTH_SCOPE", "snsapi_base")
        # Redis key prefix of the shared access-token cache (one per deployment).
        self.WECHAT_TOKEN_CACHE_PREFIX = env_str("WECHAT_TOKEN_CACHE_PREFIX", "zhcg:wechat")
        # miniprogram_state of subscribe messages: formal | trial | developer.
        self.WECHAT_MINIPROGRAM_STATE = env_str("WECHAT_MINIPROGRAM_STATE", "formal")

        self.WECHAT_SUBSCRIBE_TEMPLATE_ID = env_str(
            "WECHAT_SUBSCRIBE_TEMPLATE_ID", "emulator-subscribe-report-progress"
        )
        self.WECHAT_MP_TEMPLATE_ID = env_str("WECHAT_MP_TEMPLATE_ID", "emulator-template-progress")
        # Long-term subscribe messages (长期订阅; granted to government and public-service
        # mini-programs that apply): no per-message consent is counted. Off: each "accept" of
        # the subscribe prompt lets one message through, kept for the case's result.
        self.WECHAT_SUBSCRIBE_LONG_TERM = env_bool("WECHAT_SUBSCRIBE_LONG_TERM", False)
        # The public account citizens follow for updates: its name, and the link its QR code
        # holds (the "关注" page from the account's settings; shown as a QR on H5 pages). Empty:
        # the emulator's /_wechat/follow page with the emulator, else no QR (the name is said).
        self.WECHAT_MP_NAME = env_str("WECHAT_MP_NAME", "沈阳智慧城管")
        self.WECHAT_MP_FOLLOW_URL = env_str("WECHAT_MP_FOLLOW_URL", "")
        # The public account as a conversation (issue 15: wechat/followers.py, menus.py).
        # Case updates go as customer-service texts while the citizen's last message to the
        # account is younger than this (WeChat's window is 48 hours; the margin covers the queue).
        self.WECHAT_MP_CUSTOM_WINDOW_HOURS = float(env_str("WECHAT_MP_CUSTOM_WINDOW_HOURS", "47.5"))

        # --- WeChat Pay v3 merchant transfers (商家转账; only wechat/pay reads these) ---------
        # The emulator follows WECHAT_EMULATOR unless set; production refuses it.
        self.WECHATPAY_EMULATOR = env_bool("WECHATPAY_EMULATOR", self.WECHAT_EMULATOR)
        self.WECHATPAY_MCHID = env_str("WECHATPAY_MCHID", "1900000109")
        self.WECHATPAY_APPID = env_str("WECHATPAY_APPID", self.WECHAT_MINI_APP_ID)
        # A second app bound to the merchant whose openids may be paid (the public account: its
        # H5 pages confirm through the JSSDK); empty: only WECHATPAY_APPID's users are paid.
        self.WECHATPAY_H5_APPID = env_str("WECHATPAY_H5_APPID", self.WECHAT_MP_APP_ID)
        # Empty: https://api.mch.weixin.qq.com, or {PUBLIC_BASE_URL}/_wechatpay with the emulator.
        self.WECHATPAY_API_BASE_URL = env_str("WECHATPAY_API_BASE_URL")
        # Secrets, from the environment only. PEM text (\n escapes allowed) or a file path.
        # With the emulator on and no merchant key set, the emulator's generated keys are used.
        self.WECHATPAY_PRIVATE_KEY = env_str("WECHATPAY_PRIVATE_KEY")  # merchant API key
        self.WECHATPAY_PRIVATE_KEY_FILE = env_str("WECHATPAY_PRIVATE_KEY_FILE")
        self.WECHATPAY_CERT_SERIAL_NO = env_str("WECHATPAY_CERT_SERIAL_NO")
        self.WECHATPAY_APIV3_KEY = env_str("WECHATPAY_APIV3_KEY")  # 32 bytes
        self.WECHATPAY_PUBLIC_KEY = env_str("WECHATPAY_PUBLIC_KEY")  # WeChat Pay's public key
        self.WECHATPAY_PUBLIC_KEY_FILE = env_str("WECHATPAY_PUBLIC_KEY_FILE")
        self.WECHATPAY_PUBLIC_KEY_ID = env_str("WECHATPAY_PUBLIC_KEY_ID")  # PUB_KEY_ID_...
        self.WECHATPAY_NOTIFY_URL = env_str(
            "WECHATPAY_NOTIFY_URL", f"{self.PUBLIC_BASE_URL}/wechat/pay/transfer-notify"
        )
        # 1000 = 现金营销 (cash rewards); WeChat requires 活动名称 and 奖励说明 report infos for it.
        self.WECHATPAY_TRANSFER_SCENE_ID = env_str("WECHATPAY_TRANSFER_SCENE_ID", "1000")
        self.WECHATPAY_HTTP_TIMEOUT = float(env_str("WECHATPAY_HTTP_TIMEOUT", "5"))
        self.WECHATPAY_CALLBACK_MAX_SKEW = env_int("WECHATPAY_CALLBACK_MAX_SKEW", 300)
        # The emulator's state (shared by every process) and, next to it, its generated keys.
        self.WECHATPAY_EMULATOR_DB = env_str(
            "WECHATPAY_EMULATOR_DB", str(instance_dir / "wechatpay-emulator" / "state.db")
        )
        # How often the embedded emulator delivers notifications; 0 = no thread (tests).
        self.WECHATPAY_EMULATOR_DELIVERY_SECONDS = float(
            env_str("WECHATPAY_EMULATOR_DELIVERY_SECONDS", "0" if self.TESTING else "2")
        )
        # --- end of WeChat Pay settings -----------------------------------------------------

        # 车窗抛物 rewards (reports/littering).
        self.LITTERING_OCR_ENABLED = env_bool("LITTERING_OCR_ENABLED", True)
        self.LITTERING_TRANSFER_REMARK = env_str("LITTERING_TRANSFER_REMARK", "车窗抛物举报奖励")
        self.LITTERING_CAPTURE_TIME_TOLERANCE_HOURS = env_int(
            "LITTERING_CAPTURE_TIME_TOLERANCE_HOURS", 2
        )
        # Multiplies the payout worker's retry delays (load runs use a small value).
        self.LITTERING_RETRY_SCALE = float(env_str("LITTERING_RETRY_SCALE", "1"))

        # SMS gateway and 牛皮癣 small ads (issue 15; app/sms, reports/smallads).
        # Empty SMS_API_BASE_URL: Aliyun dysmsapi, or the in-process emulator (/_sms).
        self.SMS_EMULATOR = env_bool("SMS_EMULATOR", self.WECHAT_EMULATOR)
        self.SMS_API_BASE_URL = env_str("SMS_API_BASE_URL")
        self.SMS_ACCESS_KEY_ID = env_str("SMS_ACCESS_KEY_ID", "emulator-sms-key")
        self.SMS_ACCESS_KEY_SECRET = env_str("SMS_ACCESS_KEY_SECRET", "emulator-sms-secret")
        self.SMS_SIGN_NAME = env_str("SMS_SIGN_NAME", "沈阳城管")
        self.SMS_HTTP_TIMEOUT = float(env_str("SMS_HTTP_TIMEOUT", "5"))
        # The notice's deadline in working days; reminders per local day and the least working
        # hours between two messages to one number (reminders go out in working time only).
        self.SMALLADS_NOTICE_WORKING_DAYS = env_int("SMALLADS_NOTICE_WORKING_DAYS", 2)
        self.SMALLADS_REMINDERS_PER_DAY = env_int("SMALLADS_REMINDERS_PER_DAY", 2)
        self.SMALLADS_REMINDER_GAP_HOURS = float(env_str("SMALLADS_REMINDER_GAP_HOURS", "3"))
        self.SMALLADS_OCR_ENABLED = env_bool("SMALLADS_OCR_ENABLED", True)

        # Reports (issue 3).
        self.REPORT_DUPLICATE_RADIUS_M = env_int("REPORT_DUPLICATE_RADIUS_M", 50)
        self.REPORT_MACHINE_THRESHOLD = float(env_str("REPORT_MACHINE_THRESHOLD", "0.8"))
        self.REPORT_EXPORT_MAX_ROWS = env_int("REPORT_EXPORT_MAX_ROWS", 200_000)
        # A citizen's report gets the model's category (and may dispatch itself) only at or above
        # this confidence; below, a dispatcher classifies it (0.88 on the calibrated scale: see
        # docs/benchmarks.md).
        self.REPORT_CLASSIFIER_THRESHOLD = float(env_str("REPORT_CLASSIFIER_THRESHOLD", "0.88"))
        self.RATELIMIT_REPORTS = env_str("RATELIMIT_REPORTS", "10/hour;30/day")
        # A citizen's answers, votes, comments and proposals in project consultations.
        self.RATELIMIT_CONSULTATIONS = env_str("RATELIMIT_CONSULTATIONS", "30/minute;300/day")
        # A dissatisfied citizen may reopen a closed case (不满意，重新办理) this many days after.
        self.REOPEN_DAYS = env_int("REOPEN_DAYS", 7)
        # Closed cases stay on the public map (身边案件) and in the nearby list this many days.
        self.PUBLIC_CLOSED_DAYS = env_int("PUBLIC_CLOSED_DAYS", 30)
        # Privacy (app/privacy.py, docs/privacy.md): `flask privacy purge` removes the photos and
        # personal data of cases closed (or reviewed) more than RETENTION_DAYS ago, in batches.
        self.RETENTION_DAYS = env_int("RETENTION_DAYS", 730)
        self.RETENTION_BATCH = env_int("RETENTION_BATCH", 500)

        # 文明行为展示 (reports/showcase): per citizen; a post is hidden (until a reviewer
        # decides) once this many different citizens reported it.
        self.RATELIMIT_SHOWCASE_POSTS = env_str("RATELIMIT_SHOWCASE_POSTS", "5/hour;20/day")
        self.RATELIMIT_SHOWCASE_LIKES = env_str("RATELIMIT_SHOWCASE_LIKES", "60/minute;600/day")
        self.RATELIMIT_SHOWCASE_FLAGS = env_str("RATELIMIT_SHOWCASE_FLAGS", "10/hour;30/day")
        self.SHOWCASE_HIDE_AFTER_FLAGS = env_int("SHOWCASE_HIDE_AFTER_FLAGS", 3)

        # Reporting in the public account's chat (issue 15, reports/mp_chat.py).
        # An open conversation idle this long has expired (said on the citizen's next message).
        self.MP_CHAT_TIMEOUT_MINUTES = env_int("MP_CHAT_TIMEOUT_MINUTES", 30)
        # Worker claims of a conversation whose photos WeChat failed to hand over (busy, network)
        # before it is filed without them; the wait doubles from MP_CHAT_RETRY_SECONDS.
        self.MP_CHAT_FETCH_ATTEMPTS = env_int("MP_CHAT_FETCH_ATTEMPTS", 6)
        self.MP_CHAT_RETRY_SECONDS = float(env_str("MP_CHAT_RETRY_SECONDS", "30"))
        # Where the WeChat emulator keeps uploaded media, shared by every process on the host
        # (the server's callbacks and `flask worker`); empty: in the emulator's memory (tests).
        self.WECHAT_EMULATOR_MEDIA_DIR = env_str(
            "WECHAT_EMULATOR_MEDIA_DIR",
            "" if self.TESTING else str(instance_dir / "wechat-emulator" / "media"),
        )

        # Shop plates (issue 4, shops/codes.py, qr.py, printsheet.py, wechat/wxacode.py).
        # Plate URLs in capitals when PUBLIC_BASE_URL allows it (QR alphanumeric mode).
        self.SHOP_QR_UPPERCASE = env_bool("SHOP_QR_UPPERCASE", True)
        self.SHOP_LABEL_FONT = env_str(
            "SHOP_LABEL_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
        )
        self.WECHAT_WXACODE_ENABLED = env_bool("WECHAT_WXACODE_ENABLED", False)
        self.WECHAT_WXACODE_PAGE = env_str("WECHAT_WXACODE_PAGE", "pages/shop/index")
        self.WECHAT_WXACODE_PER_MINUTE = env_int("WECHAT_WXACODE_PER_MINUTE", 3000)

        # Per-process caches (app.changes.Watch: regions, the working calendar, the shop views,
        # the shop heat map) read their change counter at most this often. Deployments that set
        # the shop cache's older name keep their value.
        self.CACHE_CHECK_SECONDS = float(
            env_str("CACHE_CHECK_SECONDS", env_str("SHOP_CACHE_CHECK_SECONDS", "1"))
        )
        # Where committed writes of shared topics (app.changes.share: the facilities) are
        # announced to every process on the host, which reads it on each use.
        self.CHANGES_FILE = env_str("CHANGES_FILE", str(instance_dir / "changes.bin"))

        # Shops: public lookups (issue 4).
        self.RATELIMIT_SHOP_LOOKUP = env_str("RATELIMIT_SHOP_LOOKUP", "120/minute")
        self.SHOP_CACHE_MAX_AGE_SECONDS = float(env_str("SHOP_CACHE_MAX_AGE_SECONDS", "3600"))
        self.SHOP_CACHE_REPORTS_SECONDS = float(env_str("SHOP_CACHE_REPORTS_SECONDS", "60"))
        self.SHOP_CACHE_PREFILL = env_bool("SHOP_CACHE_PREFILL", True)
        self.SHOP_VIEW_CACHE_SIZE = env_int("SHOP_VIEW_CACHE_SIZE", 60_000)
        self.SHOP_BOUNDARY_CITY = env_str("SHOP_BOUNDARY_CITY", "shenyang")

        # Nearby services (issue 5).
        self.RATELIMIT_NEARBY = env_str("RATELIMIT_NEARBY", "120/minute")
        self.RATELIMIT_NEARBY_FEED = env_str("RATELIMIT_NEARBY_FEED", "600/minute")  # per feed key
        self.NEARBY_SYNC_SECONDS = float(env_str("NEARBY_SYNC_SECONDS", "1"))
        # Where the nearest-search index is built once and mapped by every process of the host
        # (services_nearby/nearest.py); empty: each process builds its own in memory.
        self.NEARBY_INDEX_DIR = env_str("NEARBY_INDEX_DIR", str(instance_dir / "nearby-index"))
        self.NEARBY_MAX_LIMIT = env_int("NEARBY_MAX_LIMIT", 50)
        self.NEARBY_MAX_RADIUS_M = env_int("NEARBY_MAX_RADIUS_M", 50_000)
        # A nearest facility farther than this (or a point outside the city) is said so; from
        # outside the city the search starts at the city centre (services_nearby/nearest.py).
        self.NEARBY_FAR_KM = float(env_str("NEARBY_FAR_KM", "50"))
        # Public-opinion watch (网络舆情, issue 15; reports/opinion). The fetcher's limits per
        # request; a post is relevant at or above this calibrated classifier confidence (or
        # with an include keyword, and never with an exclude keyword). The emulated complaint
        # boards (/_opinion/...) follow WECHAT_EMULATOR; the demo sources point at them, at
        # OPINION_DEMO_BASE_URL (empty: PUBLIC_BASE_URL).
        self.OPINION_FETCH_TIMEOUT = float(env_str("OPINION_FETCH_TIMEOUT", "10"))
        self.OPINION_MAX_BYTES = env_int("OPINION_MAX_BYTES", 2 * 1024 * 1024)
        self.OPINION_RELEVANCE_THRESHOLD = float(env_str("OPINION_RELEVANCE_THRESHOLD", "0.5"))
        self.OPINION_MAX_BACKOFF_MINUTES = env_int("OPINION_MAX_BACKOFF_MINUTES", 24 * 60)
        self.OPINION_EMULATOR = env_bool("OPINION_EMULATOR", self.WECHAT_EMULATOR)
        self.OPINION_DEMO_BASE_URL = env_str("OPINION_DEMO_BASE_URL")
        # Map tiles for staff maps (Tianditu or Amap in production); empty = boundaries only.
        self.MAP_TILE_URL = env_str("MAP_TILE_URL")
        self.MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION")

        # --- 12345 hotline (issue 15, reports/hotline) -------------------------------------
        # The emulator of the platform at /_12345 follows WECHAT_EMULATOR unless set.
        self.HOTLINE_EMULATOR = env_bool("HOTLINE_EMULATOR", self.WECHAT_EMULATOR)
        self.HOTLINE_PLATFORM_ID = env_str("HOTLINE_PLATFORM_ID", "sy12345")
        # Shared secret of the signatures both ways, from the environment only; the embedded
        # default only with the emulator. Empty: the inbound interface answers 503.
        self.HOTLINE_SECRET = env_str(
            "HOTLINE_SECRET", HOTLINE_EMULATOR_SECRET if self.HOTLINE_EMULATOR else ""
        )
        self.HOTLINE_MAX_SKEW_SECONDS = env_int("HOTLINE_MAX_SKEW_SECONDS", 300)
        self.HOTLINE_MAX_BODY_BYTES = env_int("HOTLINE_MAX_BODY_BYTES", 64 * 1024)
        self.RATELIMIT_HOTLINE = env_str("RATELIMIT_HOTLINE", "600/minute")
        # Where status pushes go; empty: {PUBLIC_BASE_URL}/_12345 with the emulator.
        self.HOTLINE_BASE_URL = env_str("HOTLINE_BASE_URL")
        self.HOTLINE_HTTP_TIMEOUT = float(env_str("HOTLINE_HTTP_TIMEOUT", "5"))
        # A failed push waits HOTLINE_RETRY_SECONDS x 2^(attempts-1) (at most an hour), and is
        # given up after HOTLINE_MAX_ATTEMPTS.
        self.HOTLINE_RETRY_SECONDS = float(env_str("HOTLINE_RETRY_SECONDS", "30"))
        self.HOTLINE_MAX_ATTEMPTS = env_int("HOTLINE_MAX_ATTEMPTS", 12)
        # Orders whose reply deadline is this close are listed as 即将到期.
        self.HOTLINE_NEAR_HOURS = env_int("HOTLINE_NEAR_HOURS", 24)
        self.HOTLINE_EMULATOR_DB = env_str(
            "HOTLINE_EMULATOR_DB", str(instance_dir / "hotline-emulator.db")
        )
        # --- end of 12345 hotline settings ------------------------------------------------

        # --- Open311 GeoReport v2 (reports/open311, docs/open311.md) ----------------------
        # The one jurisdiction this server answers for: another jurisdiction_id is a 404.
        self.OPEN311_JURISDICTION_ID = env_str("OPEN311_JURISDICTION_ID", "zhcg")
        # What the discovery document tells client developers (shown to them: Chinese).
        self.OPEN311_CONTACT = env_str("OPEN311_CONTACT", "如需帮助，请联系市城管局信息中心")
        self.OPEN311_KEY_SERVICE = env_str(
            "OPEN311_KEY_SERVICE", "提交问题需要密钥：请向市城管局信息中心申请，由管理员发放"
        )

        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
        self.LOG_FORMAT = env_str("LOG_FORMAT", "json")  # json | text (a developer's terminal)
        # Bearer token for /metrics; empty: only direct requests from this host are answered.
        self.METRICS_TOKEN = env_str("METRICS_TOKEN")

    # OpenAPI (flask-smorest); the docs UI assets are served locally (app/apidocs.py).
    API_TITLE = "智慧城管 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    def validate(self) -> None:
        """Raise ConfigError when the settings are unusable in any environment."""
        if self.STORAGE_BACKEND not in {"local", "s3"}:
            raise ConfigError(f"STORAGE_BACKEND must be local or s3, got {self.STORAGE_BACKEND!r}")


class DevelopmentConfig(Config):
    """`make run`: embedded defaults."""

    ENV_NAME = "development"


class TestingConfig(Config):
    """The test suite: SQLite in memory unless TEST_DATABASE_URL; rate limits tests can lower."""

    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "testing-secret-key-0123456789abcdef"  # noqa: S105
        self.SQLALCHEMY_DATABASE_URI = env_str("TEST_DATABASE_URL", "sqlite://")
        # The real limiter runs, in memory, with limits no test reaches unless it lowers them.
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.RATELIMIT_PUBLIC = "100000/minute"
        self.RATELIMIT_LOGIN = "100000/minute"
        self.RATELIMIT_REPORTS = "100000/minute"
        self.RATELIMIT_CONSULTATIONS = "100000/minute"
        self.ARGON2_TIME_COST, self.ARGON2_MEMORY_KIB = 1, 1024  # fast hashes in tests only
        self.RATELIMIT_SHOP_LOOKUP = "100000/minute"
        self.CACHE_CHECK_SECONDS, self.SHOP_CACHE_PREFILL = 0.0, False
        self.SHOP_CACHE_REPORTS_SECONDS = 0.0
        self.RATELIMIT_NEARBY = "100000/minute"
        self.RATELIMIT_SHOWCASE_POSTS = self.RATELIMIT_SHOWCASE_LIKES = "100000/minute"
        self.RATELIMIT_SHOWCASE_FLAGS = "100000/minute"
        self.NEARBY_SYNC_SECONDS = 0.0  # the index asks the database before every query
        # Each process builds its index in memory: the tests' rolled-back transactions reuse
        # change numbers with other contents, which a shared file would mistake for its own.
        self.NEARBY_INDEX_DIR = ""
        self.STORAGE_BACKEND = "local"
        self.PUBLIC_BASE_URL = "http://localhost"
        self.LOG_LEVEL = "WARNING"


class ProductionConfig(Config):
    """Production: refuses to start with unsafe settings."""

    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
        https = self.PUBLIC_BASE_URL.startswith("https://")
        self.HSTS_MAX_AGE = env_int("HSTS_MAX_AGE", 365 * 24 * 3600 if https else 0)
        self.API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", False)
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_recycle": 3600}
        self.WECHAT_EMULATOR = env_bool("WECHAT_EMULATOR", False)
        self.WECHATPAY_EMULATOR = env_bool("WECHATPAY_EMULATOR", False)  # WeChat Pay settings
        self.SMS_EMULATOR = env_bool("SMS_EMULATOR", False)  # SMS gateway (issue 15)
        self.HOTLINE_EMULATOR = env_bool("HOTLINE_EMULATOR", False)  # 12345 hotline
        self.HOTLINE_SECRET = env_str("HOTLINE_SECRET")  # 12345 hotline: no embedded default

    def validate(self) -> None:
        """Refuse a default, short or low-variety SECRET_KEY, the emulator, or missing WeChat
        credentials."""
        super().validate()
        problems = []
        if self.SECRET_KEY == DEV_SECRET_KEY or len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
        elif len(set(self.SECRET_KEY)) < MIN_SECRET_KEY_DISTINCT:
            problems.append(
                "SECRET_KEY must be generated, not typed (it has fewer than "
                f"{MIN_SECRET_KEY_DISTINCT} different characters): "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.WECHAT_EMULATOR:
            problems.append("WECHAT_EMULATOR must be 0 in production")
        for name in (
            "WECHAT_MINI_APP_ID",
            "WECHAT_MINI_APP_SECRET",
            "WECHAT_MP_APP_ID",
            "WECHAT_MP_APP_SECRET",
            "WECHAT_MP_TOKEN",
        ):
            if not env_str(name):
                problems.append(f"{name} must be set")
        # --- WeChat Pay settings ---
        if self.WECHATPAY_EMULATOR:
            problems.append("WECHATPAY_EMULATOR must be 0 in production")
        for name in ("WECHATPAY_PRIVATE_KEY", "WECHATPAY_PUBLIC_KEY"):
            if not env_str(name) and not env_str(f"{name}_FILE"):
                problems.append(f"{name} or {name}_FILE must be set")
        for name in ("WECHATPAY_MCHID", "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_PUBLIC_KEY_ID"):
            if not env_str(name):
                problems.append(f"{name} must be set")
        if len(self.WECHATPAY_APIV3_KEY.encode()) != 32:
            problems.append("WECHATPAY_APIV3_KEY must be set to the 32-byte APIv3 key")
        # --- end of WeChat Pay settings ---
        if self.SMS_EMULATOR:  # SMS gateway (issue 15)
            problems.append("SMS_EMULATOR must be 0 in production")
        # --- 12345 hotline ---
        if self.HOTLINE_EMULATOR:
            problems.append("HOTLINE_EMULATOR must be 0 in production")
        if self.HOTLINE_SECRET and (
            self.HOTLINE_SECRET == HOTLINE_EMULATOR_SECRET or len(self.HOTLINE_SECRET) < 32
        ):
            problems.append("HOTLINE_SECRET must be the platform's random secret (32+ characters)")
        if self.HOTLINE_SECRET and not self.HOTLINE_BASE_URL:
            problems.append("HOTLINE_BASE_URL must be set when HOTLINE_SECRET is set")
        # --- end of 12345 hotline ---
        if self.STORAGE_BACKEND == "s3" and not self.S3_BUCKET:
            problems.append("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> Config:
    """The settings for APP_ENV (development by default), read from the environment now."""
    name = name or env_str("APP_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None
