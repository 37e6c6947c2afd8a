"""Aliyun RPC signature v1 (HMAC-SHA1), as the 短信服务 (dysmsapi) documentation describes it.

1. Sort every parameter except ``Signature`` by name; percent-encode names and values as
   RFC 3986 (UTF-8; A-Z a-z 0-9 - _ . ~ unencoded; space is %20, * is %2A, ~ stays ~) and join
   them as ``name=value`` with ``&``: the canonicalized query string.
2. StringToSign = HTTPMethod + "&" + percentEncode("/") + "&" + percentEncode(canonicalized).
3. Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

The client (client.py) and the emulator (emulator.py) both use these functions, and a test
checks them against a worked example computed independently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun signs it (quote keeps only the unreserved characters)."""
    return quote(str(value), safe="~")


def canonicalized(params: Mapping[str, str]) -> str:
    """The sorted, encoded query string (``Signature`` left out)."""
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalized(params))}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """The Signature parameter for these parameters."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()
