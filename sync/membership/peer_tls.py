"""The TLS of peer links: mutual TLS 1.3 under the store CA (sync/membership/trust.py), and
who the peer at the other end is, from its certificate's names."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from cryptography import x509

from sync.membership.trust import (
    NodeRemoved,
    NotAMember,
    StoreCredentials,
    WrongStore,
    check_store_id,
    names_of,
)


@contextlib.contextmanager
def pem_path(data: bytes) -> Iterator[str]:
    """A path `ssl` can read `data` from: an in-memory file where Linux has them."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("posedge-credentials", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory() as tmp:  # 0700, removed at once
        path = Path(tmp) / "credentials.pem"
        path.write_bytes(data)
        yield str(path)


def _context(creds: StoreCredentials, protocol: int) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)  # a bare context: no system CAs
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False  # peers are known by CA and SANs, not by host name
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.load_verify_locations(cadata=creds.ca_cert_pem.decode("ascii"))
    with pem_path(creds.node_cert_pem + b"\n" + creds.node_key_pem) as path:
        context.load_cert_chain(path)
    return context


def server_ssl_context(creds: StoreCredentials) -> ssl.SSLContext:
    """TLS 1.3 server side of a peer link: requires a client certificate from the store CA.

    No session tickets, so every connection proves its certificate afresh. Call
    `MembershipPolicy.check` on each connection before trusting a byte of it.
    """
    context = _context(creds, ssl.PROTOCOL_TLS_SERVER)
    context.num_tickets = 0
    return context


def client_ssl_context(creds: StoreCredentials) -> ssl.SSLContext:
    """TLS 1.3 client side of a peer link: presents this node's certificate, trusts only
    the store CA, checks no host name (pass `server_hostname=None` / aiohttp `ssl=`)."""
    return _context(creds, ssl.PROTOCOL_TLS_CLIENT)


def _peer_der(peer: Any) -> bytes | None:
    if isinstance(peer, bytes | bytearray | memoryview):
        return bytes(peer)
    if hasattr(peer, "get_extra_info"):  # a transport (aiohttp request.transport), a websocket
        peer = peer.get_extra_info("ssl_object")
    if peer is None:
        raise NotAMember("the connection is not TLS")
    return peer.getpeercert(binary_form=True)


def peer_of(peer: Any, *, store_id: str | None = None) -> tuple[str, str]:
    """(store id, node id) of the peer, from the SANs of its certificate.

    `peer` is an `ssl.SSLObject`/`ssl.SSLSocket` after the handshake, anything with
    `get_extra_info("ssl_object")` (an asyncio transport, an aiohttp client websocket), or a
    DER certificate; None (a connection without TLS) is refused. It only reads names: the
    verification is the handshake's (with the contexts above). Raises NotAMember for no TLS,
    no certificate or no posedge names; WrongStore when `store_id` is given and the
    certificate names another store.
    """
    der = _peer_der(peer)
    if not der:
        raise NotAMember("the peer presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise NotAMember(f"the peer's certificate cannot be read: {exc}") from None
    peer_store, node_id = names_of(cert)
    if node_id is None:
        raise NotAMember(f"the peer's certificate names no node of store {peer_store!r}")
    if store_id is not None and peer_store != store_id:
        raise WrongStore(f"the peer is node {node_id!r} of store {peer_store!r}, not {store_id!r}")
    return peer_store, node_id


class MembershipPolicy:
    """Who may hold a peer link: a node of this store that has not been removed.

    `removed` is read on every check (the removal list lives in a replicated document).
    """

    def __init__(self, store_id: str, removed: Callable[[], Collection[str]]) -> None:
        self.store_id = check_store_id(store_id)
        self._removed = removed

    def check(self, peer: Any) -> str:
        """The node id of a verified peer (see `peer_of`); raises NotAMember (WrongStore,
        NodeRemoved). Call it right after the handshake, and close the link if it raises."""
        _, node_id = peer_of(peer, store_id=self.store_id)
        if node_id in self._removed():
            raise NodeRemoved(f"node {node_id!r} was removed from store {self.store_id!r}")
        return node_id
