"""WeChat Pay APIv3 cryptography shared by the client and the emulator.

Signatures are RSA-SHA256 (PKCS#1 v1.5) in base64; sensitive fields are RSA-OAEP (SHA-1, as
WeChat specifies) in base64; notification resources are AES-256-GCM with the APIv3 key, a
12-character nonce and associated data, the ciphertext carrying the tag at its end.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
_NONCE_CHARS = string.ascii_letters + string.digits


class CryptoError(ValueError):
    """A key, signature or ciphertext that does not check out."""


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text (PKCS#8 or PKCS#1)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CryptoError("not an RSA private key")
    return key


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM text (SubjectPublicKeyInfo)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise CryptoError("not an RSA public key")
    return key


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#8 PEM text of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    """SubjectPublicKeyInfo PEM text of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def nonce(length: int = 32) -> str:
    """A random nonce of letters and digits."""
    return "".join(secrets.choice(_NONCE_CHARS) for _ in range(length))


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA-SHA256 signature of ``message``."""
    raw = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """True when ``signature`` (base64) is ``key``'s RSA-SHA256 signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def response_message(timestamp: str, nonce_str: str, body: bytes) -> bytes:
    """What WeChat Pay signs in answers and notifications: timestamp, nonce, body, each + LF."""
    return f"{timestamp}\n{nonce_str}\n".encode() + body + b"\n"


def request_message(method: str, path: str, timestamp: str, nonce_str: str, body: bytes) -> bytes:
    """What a merchant signs in a request: method, path with query, timestamp, nonce, body."""
    return f"{method}\n{path}\n{timestamp}\n{nonce_str}\n".encode() + body + b"\n"


def oaep_encrypt(key: rsa.RSAPublicKey, text: str) -> str:
    """A sensitive field (user_name) encrypted for WeChat Pay: RSA-OAEP SHA-1, base64."""
    pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - WeChat's scheme
    return base64.b64encode(key.encrypt(text.encode(), pad)).decode()


def oaep_decrypt(key: rsa.RSAPrivateKey, ciphertext: str) -> str:
    """The plaintext of a field encrypted with :func:`oaep_encrypt`."""
    pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - WeChat's scheme
    try:
        return key.decrypt(base64.b64decode(ciphertext, validate=True), pad).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CryptoError("cannot decrypt the field") from exc


def aes_gcm_encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """A notification ``resource`` object (without original_type) for ``plaintext``."""
    iv = nonce(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(iv.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": iv,
    }


def aes_gcm_decrypt(apiv3_key: str, resource: dict[str, Any]) -> bytes:
    """The plaintext of a notification ``resource``; CryptoError when it does not open."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise CryptoError("unsupported resource algorithm")
    iv, sealed = resource.get("nonce"), resource.get("ciphertext")
    aad = resource.get("associated_data") or ""
    if not isinstance(iv, str) or not isinstance(sealed, str) or not isinstance(aad, str):
        raise CryptoError("resource fields missing")
    key = apiv3_key.encode()
    if len(key) != 32:
        raise CryptoError("the APIv3 key must be 32 bytes")
    try:
        return AESGCM(key).decrypt(iv.encode(), base64.b64decode(sealed), aad.encode())
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise CryptoError("resource does not decrypt with the APIv3 key") from exc


def canonical_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the shape WeChat Pay sends."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
