"""Password hashing, for every password the product keeps (console accounts, the shop website's accounts).

Passwords are hashed with the standard library's scrypt (n=2**14, r=8, p=1, a 16-byte random salt) and
stored as ``scrypt$n$r$p$salt$hash`` (salt and hash in hex), so the cost can be raised later without
breaking existing hashes. Checking compares in constant time; `dummy_hash` is what to check against when
the account is unknown, so an unknown name takes as long to refuse as a wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, bytes.fromhex(digest))
    except ValueError:  # not a hash this module wrote
        return False


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Checked against when the account is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(24))
