"""One-time codes, as people read them and as nodes keep them: the join codes that admit a
node to a store (join.py), and the alphabet the terminals' pairing codes share.

A code is 8 characters of 31 (about 2^40), shown XXXX-XXXX. A node keeps only its key,
scrypt(code, context + salt) with a salt of the code's own, never the code itself.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable

CONTEXT = b"posedge join v1"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed
CODE_LENGTH = 8  # 31^8 ≈ 2^39.6
CODE_TTL = 600.0  # seconds
MAX_LIVE_CODES = 4  # a joining node derives one key per live code
SCRYPT = {"n": 2**15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024}


def normalize_code(code: str) -> str | None:
    """The 8 characters of a code as typed ("k7m2 9xqf", "K7M2-9XQF"), or None."""
    if not isinstance(code, str):
        return None
    raw = code.upper().replace("-", "").replace(" ", "")
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def code_key(raw_code: str, salt: bytes, context: bytes = CONTEXT) -> bytes:
    """What a node keeps of a one-time code instead of the code: scrypt under a salt of the
    code's own (~0.1 s). `context` keeps a join code's key from being a pairing code's."""
    return hashlib.scrypt(raw_code.encode("ascii"), salt=context + salt, dklen=32, **SCRYPT)


def new_code() -> tuple[str, bytes, bytes]:
    """A new code (normalized), its salt and its key."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    salt = os.urandom(16)
    return raw, salt, code_key(raw, salt)


def shown(raw_code: str) -> str:
    """A code as people read it: XXXX-XXXX."""
    return f"{raw_code[:4]}-{raw_code[4:]}"


class JoinCodes:
    """The live join codes of the admitting node, in memory, as keys by salt: each valid
    `ttl` seconds, once. Safe to use from several threads."""

    def __init__(
        self,
        *,
        ttl: float = CODE_TTL,
        limit: int = MAX_LIVE_CODES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._limit = limit
        self._clock = clock
        self._codes: dict[bytes, tuple[bytes, float]] = {}  # salt -> (key, expiry), oldest first
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = self._clock()
        for salt in [s for s, (_, expires) in self._codes.items() if expires <= now]:
            del self._codes[salt]

    def create(self) -> str:
        """A new code, formatted XXXX-XXXX; the oldest live code goes beyond `limit`."""
        raw, salt, key = new_code()
        with self._lock:
            self._expire()
            while len(self._codes) >= self._limit:
                del self._codes[next(iter(self._codes))]
            self._codes[salt] = (key, self._clock() + self._ttl)
        return shown(raw)

    def live(self) -> dict[bytes, bytes]:
        """The keys of the codes still valid, by salt."""
        with self._lock:
            self._expire()
            return {salt: key for salt, (key, _) in self._codes.items()}

    def burn(self, salt: bytes) -> bool:
        """Use the code of `salt` up; False if it was not live (expired, burnt, never made)."""
        with self._lock:
            self._expire()
            return self._codes.pop(salt, None) is not None
