"""Key material for the WeChat Pay emulator, generated once per directory.

The emulator plays both sides: the merchant's API key pair (whose public half WeChat Pay keeps)
and WeChat Pay's platform key pair (whose public half the merchant configures, named by a
``PUB_KEY_ID_...``), plus the merchant's 32-character APIv3 key. They are written once to
``keys.json`` by an atomic hard link, so several workers starting together agree on one set.
Never used in production (the emulator is refused there).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import string
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from wechat.pay import crypto

KEYS_FILE = "keys.json"


@dataclass(frozen=True)
class EmulatorKeys:
    """Both key pairs, the merchant certificate serial, the public key id and the APIv3 key."""

    merchant_private_pem: str
    merchant_public_pem: str
    merchant_serial_no: str
    platform_private_pem: str
    platform_public_pem: str
    public_key_id: str
    apiv3_key: str


def generate() -> EmulatorKeys:
    """A fresh set of emulator keys (two RSA 2048 pairs: about a tenth of a second)."""
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alphabet = string.ascii_letters + string.digits
    return EmulatorKeys(
        merchant_private_pem=crypto.private_pem(merchant),
        merchant_public_pem=crypto.public_pem(merchant.public_key()),
        # Merchant certificate serials are 40 upper-case hex digits.
        merchant_serial_no=secrets.token_hex(20).upper(),
        platform_private_pem=crypto.private_pem(platform),
        platform_public_pem=crypto.public_pem(platform.public_key()),
        public_key_id="PUB_KEY_ID_0114" + "".join(secrets.choice(string.digits) for _ in range(28)),
        apiv3_key="".join(secrets.choice(alphabet) for _ in range(32)),
    )


def load_or_create(directory: str | os.PathLike[str]) -> EmulatorKeys:
    """The keys stored in ``directory``, generated and stored first if there are none."""
    folder = Path(directory)
    path = folder / KEYS_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".keys-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(generate()), fh)
            os.chmod(tmp, 0o600)
            # link() fails when another process won the race: then its keys are the keys.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    data = json.loads(path.read_text(encoding="utf-8"))
    return EmulatorKeys(**data)
