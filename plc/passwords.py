"""Password hashes for the OPC UA users in the station config (``[opcua.users.NAME] password_hash``).

scrypt (memory-hard, in the standard library) with a random salt per user. The config only ever holds the
hash: ``inspect-app opcua hash-password`` makes one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

# N=2^14, r=8: ~16 MiB and a few tens of ms per check, paid once per session activation, not per request
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("empty password")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a hash from :func:`hash_password`; False on any malformed
    hash rather than an exception, so a bad config entry can only lock its user out."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(digest), maxmem=2**26
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, digest)
