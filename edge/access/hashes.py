"""How the secrets people type are kept: the UI users' passwords and the employees' PINs,
each as a salted scrypt hash (`scrypt$n$r$p$salt$hash`, hex encoded) with the parameters
stored beside it, so that they can be raised later without invalidating old hashes.

Hashing and checking are slow on purpose (~50 ms, 16 MiB): call them from a worker thread
(asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# scrypt at n=2^14, r=8 (16 MiB, ~50 ms here): the parameters are stored with each hash
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of a password or PIN: `scrypt$n$r$p$salt$hash`, hex encoded."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


NOBODY_HASH = hash_password(secrets.token_hex(16))
"""Checked against when the name is unknown, so that a wrong name costs as long as a wrong
password: the answer's time tells nobody which names exist."""
