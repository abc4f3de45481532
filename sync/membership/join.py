"""Joining a store: a one-time code turns a new node into a member, over a channel that
need not be trusted (the member's API port, whose certificate the new node cannot check yet).

A member shows a code (`JoinCodes.create`, e.g. K7M2-9XQF: 8 characters of 31, about 2^40,
valid 10 minutes, once). It keeps only a key made from it, never the code:
scrypt(code, "posedge join v1" + salt) with a fresh 16-byte salt per code. The new node asks
`GET /join` for the salts of the live codes (at most four), derives the key of its code under
each, and sends

    {version, node_id, csr, dh, proofs: [[salt, mac], ...]}

where `dh` is an ephemeral X25519 key and each `mac` is HMAC-SHA256 over the canonical JSON of
the other fields, keyed by HKDF-Expand of the key under that salt. The member (`admit`) finds
the live code whose key verifies a proof, burns it, issues the node's certificate, and answers

    {version, store_id, ca_cert, node_cert, dh, nonce, ca_key_sealed, salt, mac}

where the CA key is sealed with AES-GCM under a key from X25519(both ephemeral keys) and the
code's key, and `mac` covers the answer and a digest of the request it answers.

Why this is as strong here as TLS with a pinned certificate:
- The code is the shared secret and authenticates both directions: without it, a man in the
  middle can neither get a certificate nor hand the new node a CA of its own choosing (the
  answer's MAC fails, and it is bound to this very request, so an old answer cannot be
  replayed either).
- Online guessing is what is left, and it is hopeless: each attempt is one guess of 2^40,
  failures are rate-limited per address and in total, a code dies after 10 minutes.
- A passive eavesdropper learns nothing secret: the CA key travels sealed under an ephemeral
  Diffie-Hellman secret, and guessing the code offline from a recorded exchange only yields a
  code already burnt.
- An active attacker who withholds a request and guesses its code offline before the code
  expires could use it. That is why the key comes from scrypt (n=2^15, r=8: 32 MiB and about
  0.1 s per guess here) and not from HKDF: HKDF costs nanoseconds, and one GPU would walk
  2^40 codes in minutes, within a code's life; memory-hard scrypt puts the same walk at years
  of GPU time (PBKDF2 would need ~10x the defender's time for the same attacker cost), and a
  salt per code means no walk serves two codes. A PAKE (CPace, SPAKE2) would close this last
  gap; none is in `cryptography`.
- Whoever reads the member's node.db learns the keys of live codes, not the codes; with them
  they could admit a node, but they read the member's disk, CA key included, already.

Every refusal answers the same 403, whatever the reason (the reason is logged here).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import hmac
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from sync.membership.codes import (
    CONTEXT,
    MAX_LIVE_CODES,
    JoinCodes,
    code_key,
    normalize_code,
)
from sync.membership.throttle import AttemptThrottle
from sync.membership.trust import (
    JoinRefused,
    StoreCredentials,
    TrustError,
    check_credentials,
    check_node_id,
    check_store_id,
    issue_node_certificate,
    make_csr,
)

log = logging.getLogger(__name__)

JOIN_PATH = "/join"
VERSION = 2
MAX_BODY = 16 * 1024  # a request is ~1 KiB, an answer ~3 KiB
REQUEST_FIELDS = frozenset({"version", "node_id", "csr", "dh", "proofs"})
ANSWER_FIELDS = frozenset(
    {"version", "store_id", "ca_cert", "node_cert", "dh", "nonce", "ca_key_sealed", "salt", "mac"}
)
PROBLEM_TYPE = "application/problem+json"


@dataclass(frozen=True)
class _Keys:
    base: bytes
    request: bytes
    answer: bytes


def _derive(base: bytes) -> _Keys:
    def expand(label: bytes) -> bytes:
        return HKDFExpand(hashes.SHA256(), 32, CONTEXT + b" " + label).derive(base)

    return _Keys(base, expand(b"request mac"), expand(b"answer mac"))


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: bytes, fields: dict[str, Any]) -> bytes:
    return hmac.new(key, _canonical(fields), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(fields: dict[str, Any], name: str, size: int | None = None) -> bytes:
    try:
        data = base64.b64decode(fields[name], validate=True)
    except (binascii.Error, ValueError):
        raise JoinRefused(f"{name} is not base64") from None
    if size is not None and len(data) != size:
        raise JoinRefused(f"{name} has {len(data)} bytes, not {size}")
    return data


def _fields(body: bytes, names: frozenset[str], what: str) -> dict[str, Any]:
    """The fields of a request or answer: exactly `names`, all strings but the version and
    the proofs (pairs of strings, at most MAX_LIVE_CODES)."""
    try:
        fields = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # (nested too deeply)
        raise JoinRefused(f"the {what} is not JSON") from None
    if not isinstance(fields, dict) or set(fields) != names:
        raise JoinRefused(f"the {what} does not have the fields {sorted(names)}")
    if fields["version"] != VERSION or isinstance(fields["version"], bool):
        raise JoinRefused(f"the {what} is of join version {fields['version']!r}, not {VERSION}")
    if not all(isinstance(v, str) for k, v in fields.items() if k not in ("version", "proofs")):
        raise JoinRefused(f"the {what} has a field that is not a string")
    proofs = fields.get("proofs", [])
    if not isinstance(proofs, list) or len(proofs) > MAX_LIVE_CODES:
        raise JoinRefused(f"the {what}'s proofs are not a list of at most {MAX_LIVE_CODES}")
    if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
               for p in proofs):  # fmt: skip
        raise JoinRefused(f"the {what} has a proof that is not [salt, mac]")
    return fields


def _seal_key(keys: _Keys, shared: bytes, request_digest: bytes) -> bytes:
    info = CONTEXT + b" seal " + request_digest
    return HKDF(hashes.SHA256(), 32, salt=keys.base, info=info).derive(shared)


class Joiner:
    """The joining node's side: builds one request (`body`), then reads the answer to it.

    Construction runs scrypt (~0.1 s): call it in a thread from an event loop.
    """

    def __init__(self, code: str, node_id: str, salts: list[bytes]) -> None:
        raw = normalize_code(code)
        if raw is None:
            raise JoinRefused(f"{code!r} is not a join code such as K7M2-9XQF")
        if not salts:
            raise JoinRefused(
                "the member has no live join code: make one with `posedge join-code` there"
            )
        self.node_id = check_node_id(node_id)
        self._node_key_pem, csr_pem = make_csr(node_id)
        self._dh = X25519PrivateKey.generate()
        self._keys = {_b64(salt): _derive(code_key(raw, salt)) for salt in salts}
        fields = {
            "version": VERSION,
            "node_id": node_id,
            "csr": csr_pem.decode("ascii"),
            "dh": _b64(self._dh.public_key().public_bytes_raw()),
        }
        proofs = [[salt, _b64(_mac(keys.request, fields))] for salt, keys in self._keys.items()]
        self.body = _canonical(fields | {"proofs": proofs})
        self._digest = hashlib.sha256(self.body).digest()

    def finish(self, answer: bytes) -> StoreCredentials:
        """The new node's credentials from the member's answer.

        Raises JoinRefused when the answer does not authenticate with the code (someone on
        the path changed it) or does not make working credentials.
        """
        fields = _fields(answer, ANSWER_FIELDS, "answer")
        mac = _unb64(fields, "mac", 32)
        signed = {k: v for k, v in fields.items() if k != "mac"} | {"request": self._digest.hex()}
        keys = self._keys.get(fields["salt"])
        if keys is None or not hmac.compare_digest(_mac(keys.answer, signed), mac):
            raise JoinRefused(
                "the answer does not authenticate with the join code: something between "
                "this node and the member changed it; do not trust this network path"
            )
        try:
            shared = self._dh.exchange(X25519PublicKey.from_public_bytes(_unb64(fields, "dh", 32)))
            key = _seal_key(keys, shared, self._digest)
            nonce = _unb64(fields, "nonce", 12)
            ca_key_pem = AESGCM(key).decrypt(nonce, _unb64(fields, "ca_key_sealed"), CONTEXT)
        except (ValueError, InvalidTag):
            raise JoinRefused("the answer's sealed CA key cannot be opened") from None
        parts = ("ca_cert", "ca_key", "node_cert", "node_key")
        try:
            creds = StoreCredentials(
                check_store_id(fields["store_id"]),
                self.node_id,
                fields["ca_cert"].encode(),
                ca_key_pem,
                fields["node_cert"].encode(),
                self._node_key_pem,
            )
            check_credentials(creds, where={p: f"the answer's {p}" for p in parts})
        except TrustError as exc:
            raise JoinRefused(f"the answer does not make working credentials: {exc}") from None
        return creds


@dataclass(frozen=True)
class Admission:
    """A node the member admitted: its id, its new certificate, and the answer to send."""

    node_id: str
    node_cert_pem: bytes
    answer: bytes


def admit(
    body: bytes,
    codes: JoinCodes,
    creds: StoreCredentials,
    *,
    now: dt.datetime | None = None,
) -> Admission:
    """The member's side: check a join request against the live codes and answer it.

    Burns the code that authenticates the request (whatever happens next). Raises
    JoinRefused for anything wrong. Cheap: the codes' keys were made with them.
    """
    if len(body) > MAX_BODY:
        raise JoinRefused(f"the request has {len(body)} bytes, more than {MAX_BODY}")
    fields = _fields(body, REQUEST_FIELDS, "request")
    dh = _unb64(fields, "dh", 32)
    signed = {k: v for k, v in fields.items() if k != "proofs"}
    live = codes.live()
    for salt_text, mac_text in fields["proofs"]:
        salt = _unb64({"salt": salt_text}, "salt", 16)
        key = live.get(salt)
        if key is not None:
            keys = _derive(key)
            if hmac.compare_digest(_mac(keys.request, signed), _unb64({"mac": mac_text}, "mac")):
                break
    else:
        raise JoinRefused("no live join code authenticates the request")
    if not codes.burn(salt):
        raise JoinRefused("the join code was used or expired meanwhile")
    node_id = fields["node_id"]
    try:
        node_cert_pem = issue_node_certificate(creds, node_id, fields["csr"].encode(), now=now)
    except TrustError as exc:  # a bad node id, or this node's own credentials
        raise JoinRefused(str(exc)) from None
    ephemeral = X25519PrivateKey.generate()
    digest = hashlib.sha256(_canonical(fields)).digest()
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(dh))
    except ValueError:
        raise JoinRefused("the request's dh key is degenerate") from None
    nonce = os.urandom(12)
    sealed = AESGCM(_seal_key(keys, shared, digest)).encrypt(nonce, creds.ca_key_pem, CONTEXT)
    answer = {
        "version": VERSION,
        "store_id": creds.store_id,
        "ca_cert": creds.ca_cert_pem.decode("ascii"),
        "node_cert": node_cert_pem.decode("ascii"),
        "dh": _b64(ephemeral.public_key().public_bytes_raw()),
        "nonce": _b64(nonce),
        "ca_key_sealed": _b64(sealed),
        "salt": _b64(salt),
    }
    mac = _mac(keys.answer, answer | {"request": digest.hex()})
    return Admission(node_id, node_cert_pem, _canonical(answer | {"mac": _b64(mac)}))


def _problem(status: int, slug: str, title: str, headers: dict[str, str] | None = None):
    body = {"type": f"urn:posedge:problem:{slug}", "title": title, "status": status}
    return web.Response(
        status=status, text=json.dumps(body), content_type=PROBLEM_TYPE, headers=headers
    )


async def _read_bounded(content: aiohttp.StreamReader) -> bytes | None:
    data = bytearray()
    async for chunk in content.iter_chunked(4096):
        data += chunk
        if len(data) > MAX_BODY:
            return None
    return bytes(data)


def join_routes(
    codes: JoinCodes,
    creds_provider: Callable[[], StoreCredentials | None],
    on_joined: Callable[[str, bytes], Awaitable[None] | None],
    *,
    throttle: AttemptThrottle | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> web.RouteTableDef:
    """POST /join, the member's side of the exchange, for an aiohttp app.

    `creds_provider()` gives this node's credentials (None: not a member, refuse).
    `on_joined(node_id, node_cert_pem)` runs (awaited if it is a coroutine) after the request
    is authenticated and before the answer goes out: record the new member there, or raise
    JoinRefused to refuse it (say, the node id is taken or was removed).
    """
    routes = web.RouteTableDef()
    throttle = throttle if throttle is not None else AttemptThrottle()
    lock = asyncio.Lock()  # one admission at a time: no burst slips past the throttle

    @routes.get(JOIN_PATH)
    async def salts_handler(request: web.Request) -> web.Response:
        """The salts of the live codes: a joining node derives its code's key under each."""
        salts = [_b64(salt) for salt in await asyncio.to_thread(lambda: list(codes.live()))]
        return web.json_response({"version": VERSION, "salts": salts})

    @routes.post(JOIN_PATH)
    async def join_handler(request: web.Request) -> web.Response:
        address = request.remote or "unknown"
        body = await _read_bounded(request.content)
        async with lock:
            wait = throttle.retry_after(address)
            if wait is not None:
                return _problem(
                    429,
                    "too-many-attempts",
                    "Too many failed join attempts",
                    headers={"Retry-After": str(wait)},
                )
            try:
                if body is None:
                    raise JoinRefused(f"the request is larger than {MAX_BODY} bytes")
                creds = creds_provider()
                if creds is None:
                    raise JoinRefused("this node is not a store member yet")
                when = now() if now is not None else None
                admission = await asyncio.to_thread(admit, body, codes, creds, now=when)
                result = on_joined(admission.node_id, admission.node_cert_pem)
                if inspect.isawaitable(result):
                    await result
            except TrustError as exc:  # JoinRefused, or this node's credentials are bad
                throttle.failed(address)
                log.warning("join request from %s refused: %s", address, exc)
                return _problem(403, "join-refused", "The join request was refused")
        log.info("node %s joined the store from %s", admission.node_id, address)
        return web.Response(body=admission.answer, content_type="application/json")

    return routes


async def join(
    url: str,
    code: str,
    node_id: str,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - the exchange's network deadline, as the CLI sets it
    session: aiohttp.ClientSession | None = None,
) -> StoreCredentials:
    """Join the store of the member at `url` (e.g. https://192.168.1.20:8420) with `code`.

    Returns this node's new credentials (the caller saves them). Raises JoinRefused, whose
    message says why: the code, the throttle, an answer that failed to authenticate, or a
    member that could not be reached within `timeout` seconds.
    """
    endpoint = url.rstrip("/") + JOIN_PATH
    deadline = aiohttp.ClientTimeout(total=timeout)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            # No certificate check: the member's is under a CA this node does not have yet,
            # and the exchange authenticates itself with the code (see above).
            answer = None
            async with session.get(endpoint, timeout=deadline, ssl=False) as response:
                status = response.status
                offer = await _read_bounded(response.content)
            if status == 200 and offer is not None:
                salts = _salts(offer)
                joiner = await asyncio.to_thread(Joiner, code, node_id, salts)
                async with session.post(
                    endpoint,
                    data=joiner.body,
                    headers={"Content-Type": "application/json"},
                    timeout=deadline,
                    ssl=False,
                ) as response:
                    status = response.status
                    retry = response.headers.get("Retry-After", "a minute")
                    answer = await _read_bounded(response.content)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise JoinRefused(f"cannot reach {endpoint}: {exc or type(exc).__name__}") from None
    if status == 403:
        raise JoinRefused(
            f"{endpoint} refused the join code: it is wrong, expired (codes live 10 minutes) "
            "or already used; make a new one with `posedge join-code` on a member"
        )
    if status == 429:
        raise JoinRefused(f"too many failed join attempts at {endpoint}; try again in {retry} s")
    if status == 200 and answer is None and offer is not None:
        raise JoinRefused(f"{endpoint} sent an answer larger than {MAX_BODY} bytes")
    if status != 200 or answer is None:
        raise JoinRefused(f"{endpoint} answered HTTP {status}: is it a posedge member?")
    return joiner.finish(answer)


def _salts(offer: bytes) -> list[bytes]:
    """The salts of a member's `GET /join` answer."""
    try:
        fields = json.loads(offer)
        salts = fields["salts"] if fields.get("version") == VERSION else None
    except (ValueError, UnicodeDecodeError, RecursionError, AttributeError, KeyError):
        salts = None
    if (
        not isinstance(salts, list)
        or len(salts) > MAX_LIVE_CODES
        or not all(isinstance(salt, str) for salt in salts)
    ):
        raise JoinRefused(f"the member's join offer is not of version {VERSION}: is it posedge?")
    return [_unb64({"salt": salt}, "salt", 16) for salt in salts]
