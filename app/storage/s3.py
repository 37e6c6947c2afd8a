"""S3 backend through boto3: any S3-compatible store (AWS, MinIO, Ceph, COS, OSS...).

Objects are written without an ACL, so they stay private under the bucket's default; browsers get
presigned GETs that expire. Timeouts and retries are explicit so a slow store cannot hang a worker:
S3_MAX_ATTEMPTS x (S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT) stays under gunicorn's worker timeout.
A store that cannot be reached, or does not answer in time, is left alone for
STORAGE_RETRY_SECONDS: every call in that time fails at once (the 9 photos of one report, and the
deletes that clean up after it, do not each wait out the timeouts), then the next call tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from app.storage import ObjectNotFound, StorageError, check_key

log = logging.getLogger(__name__)

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
# Nothing answered: refused, unreachable, connect or read timed out (ConnectTimeoutError is an
# EndpointConnectionError). A dropped connection or a 5xx came from a store that is there.
UNREACHABLE = (EndpointConnectionError, ReadTimeoutError)


class S3Storage:
    """Objects in one bucket; see the module docstring."""

    def __init__(
        self, client: Any, bucket: str, presign_client: Any = None, pause_seconds: float = 0
    ) -> None:
        self.client = client
        self.bucket = bucket
        # Presigned URLs sign the host: sign with the endpoint browsers reach when it differs.
        self.presign_client = presign_client or client
        self.pause_seconds = pause_seconds
        self.paused_until = 0.0  # time.monotonic(); calls before it fail at once

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> S3Storage:
        """Build the client from S3_* settings (empty keys: boto3's default credential chain)."""
        if not cfg.get("S3_BUCKET"):
            raise RuntimeError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        boto_cfg = BotoConfig(
            region_name=cfg["S3_REGION"],
            signature_version="s3v4",
            s3={"addressing_style": cfg["S3_ADDRESSING_STYLE"]},
            connect_timeout=cfg["S3_CONNECT_TIMEOUT"],
            read_timeout=cfg["S3_READ_TIMEOUT"],
            retries={"total_max_attempts": cfg["S3_MAX_ATTEMPTS"], "mode": "standard"},
        )
        session = boto3.session.Session()

        def make_client(endpoint: str | None) -> Any:
            return session.client(
                "s3",
                endpoint_url=endpoint or None,
                aws_access_key_id=cfg.get("S3_ACCESS_KEY_ID") or None,
                aws_secret_access_key=cfg.get("S3_SECRET_ACCESS_KEY") or None,
                config=boto_cfg,
            )

        client = make_client(cfg.get("S3_ENDPOINT_URL"))
        public = cfg.get("S3_PUBLIC_ENDPOINT_URL")
        return cls(
            client,
            cfg["S3_BUCKET"],
            make_client(public) if public else None,
            pause_seconds=float(cfg["STORAGE_RETRY_SECONDS"]),
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload the object (no ACL: private)."""
        self._call(
            "put_object",
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    def get(self, key: str) -> bytes:
        """Download the object."""
        resp = self._call("get_object", Bucket=self.bucket, Key=check_key(key))
        try:
            return resp["Body"].read()
        except (BotoCoreError, OSError) as exc:
            raise StorageError(f"s3 read of {key!r} failed: {exc}") from exc

    def delete(self, key: str) -> None:
        """Delete the object (S3 treats a missing key as success)."""
        self._call("delete_object", Bucket=self.bucket, Key=check_key(key))

    def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            self._call("head_object", Bucket=self.bucket, Key=check_key(key))
        except ObjectNotFound:
            return False
        return True

    def url(self, key: str, ttl_seconds: int) -> str:
        """A presigned GET valid for ``ttl_seconds`` (computed locally, no request)."""
        return self.presign_client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key)},
            ExpiresIn=int(ttl_seconds),
        )

    def _call(self, operation: str, **params: Any) -> Any:
        """Call the client, mapping botocore errors to ObjectNotFound / StorageError; fail at once
        while the store is left alone after it could not be reached (see the module docstring)."""
        wait = self.paused_until - time.monotonic()
        if wait > 0:
            raise StorageError(
                f"s3 {operation} skipped: the store failed, next try in {wait:.1f} s"
            )
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in NOT_FOUND_CODES:
                raise ObjectNotFound(params.get("Key", "")) from None
            raise StorageError(f"s3 {operation} failed: {code or exc}") from exc
        except UNREACHABLE as exc:
            self.paused_until = time.monotonic() + self.pause_seconds
            log.warning("s3 %s failed (%s); leaving the store alone for %.0f s",
                        operation, exc, self.pause_seconds)  # fmt: skip
            raise StorageError(f"s3 {operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3 {operation} failed: {exc}") from exc
