"""Password hashes kept in the station config: OPC UA users (``[opcua.users.NAME] password_hash``) and the
operator window's engineer mode (``[ui] engineer_password_hash``).

scrypt (memory-hard, in the standard library) with a random salt per hash; the config only ever holds the
hash. Format: ``scrypt$N$r$p$<salt b64>$<digest b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# N=2^14, r=8: ~16 MiB and a few tens of ms per check: slow for an attacker, unnoticed at a login
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("the password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; False for a wrong password, an unset hash or a malformed one (never raises),
    so a bad config entry can only lock its user out."""
    if not stored or not password:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt, validate=True), n=int(n),
                             r=int(r), p=int(p), dklen=len(want), maxmem=256 * 2**20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)
