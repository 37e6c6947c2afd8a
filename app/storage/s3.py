"""S3 backend through boto3: any S3-compatible store (AWS, MinIO, Ceph, COS, OSS...).

Objects are written without an ACL, so they stay private under the bucket's default; browsers get
presigned GETs that expire. Timeouts and retries are explicit so a slow store cannot hang a worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from app.storage import ObjectNotFound, StorageError, check_key

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Objects in one bucket; see the module docstring."""

    def __init__(self, client: Any, bucket: str, presign_client: Any = None) -> None:
        self.client = client
        self.bucket = bucket
        # Presigned URLs sign the host: sign with the endpoint browsers reach when it differs.
        self.presign_client = presign_client or client

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> S3Storage:
        """Build the client from S3_* settings (empty keys: boto3's default credential chain)."""
        if not cfg.get("S3_BUCKET"):
            raise RuntimeError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        boto_cfg = BotoConfig(
            region_name=cfg.get("S3_REGION") or "us-east-1",
            signature_version="s3v4",
            s3={"addressing_style": cfg.get("S3_ADDRESSING_STYLE") or "path"},
            connect_timeout=cfg.get("S3_CONNECT_TIMEOUT", 5),
            read_timeout=cfg.get("S3_READ_TIMEOUT", 30),
            retries={"total_max_attempts": cfg.get("S3_MAX_ATTEMPTS", 3), "mode": "standard"},
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
        return cls(client, cfg["S3_BUCKET"], make_client(public) if public else None)

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
        """Call the client, mapping botocore errors to ObjectNotFound / StorageError."""
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in NOT_FOUND_CODES:
                raise ObjectNotFound(params.get("Key", "")) from None
            raise StorageError(f"s3 {operation} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3 {operation} failed: {exc}") from exc
