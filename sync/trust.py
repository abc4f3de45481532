"""Store membership: the store's CA, node certificates, their files, and TLS contexts.

Each store has a CA (an EC P-256 key and a self-signed certificate, 10 years) that names the
store in a URI SAN `urn:posedge:store:<store_id>`. Each node has its own key and a
certificate from that CA naming the store and `urn:posedge:node:<node_id>`. Peer links are
mutual TLS 1.3 that trusts the store CA and nothing else; peers are told apart by those SANs,
never by host names or addresses (mDNS, which told us where they are, is untrusted).

Every member holds the CA key, so any member can admit a new node: a store has no server
room, and the node that created the store may be the one that died. This is acceptable
because members already trust each other fully (each may write every document of the
store), and it costs this: whoever steals one node's disk holds the store CA and can mint
certificates under fresh node ids, which the removal list (by node id) cannot stop.
Recovering from a stolen node means a new store CA that every node joins again.

Pure-ish: no sockets and no clock reads (pass `now`); `save` and `load` touch the files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import ssl
import tempfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import SyncError

STORE_URN = "urn:posedge:store:"
NODE_URN = "urn:posedge:node:"
CA_VALIDITY = dt.timedelta(days=3653)  # 10 years; node certificates end with their CA
BACKDATE = dt.timedelta(days=1)  # a joining node's clock may lag the admitting node's
STORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as store.id in the node's config
NODE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # as node.name in the node's config
STRONG_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
MIN_RSA_BITS = 3072  # 2048 is below 128-bit strength, and these certificates last 10 years
CA_CERT, CA_KEY, NODE_CERT, NODE_KEY = "ca.pem", "ca.key", "node.pem", "node.key"


class TrustError(SyncError):
    """A certificate, key or credentials file cannot be used to prove store membership."""


class NotAMember(TrustError):
    """The peer did not prove membership of this store."""


class WrongStore(NotAMember):
    """The peer's certificate names another store."""


class NodeRemoved(NotAMember):
    """The peer's node was removed from the store."""


class JoinRefused(TrustError):
    """Admitting a node failed: a wrong, expired or used code, a bad request or answer."""


@dataclass(frozen=True)
class StoreCredentials:
    """What makes a node a member of a store: the store CA (key included) and its own."""

    store_id: str
    node_id: str
    ca_cert_pem: bytes
    ca_key_pem: bytes
    node_cert_pem: bytes
    node_key_pem: bytes

    def __repr__(self) -> str:  # keys never reach a log
        return f"StoreCredentials(store_id={self.store_id!r}, node_id={self.node_id!r})"


def check_store_id(store_id: str) -> str:
    """`store_id` if it is a valid store id (as in the config), else TrustError."""
    if not isinstance(store_id, str) or not STORE_ID.fullmatch(store_id):
        raise TrustError(f"store id {store_id!r} must be 1-64 letters, digits, '-' or '_'")
    return store_id


def check_node_id(node_id: str) -> str:
    """`node_id` if it is a valid node id (as node.name in the config), else TrustError."""
    if not isinstance(node_id, str) or not NODE_ID.fullmatch(node_id):
        raise TrustError(f"node id {node_id!r} must be 1-64 letters, digits, '.', '-' or '_'")
    return node_id


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def new_key_pem() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A new P-256 key and its unencrypted PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, pem


def _name(common_name: str) -> x509.Name:
    # The CN is for people reading a certificate; the URI SANs are what posedge checks.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "posedge"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _sans(store_id: str, node_id: str | None = None) -> x509.SubjectAlternativeName:
    uris = [x509.UniformResourceIdentifier(STORE_URN + store_id)]
    if node_id is not None:
        uris.append(x509.UniformResourceIdentifier(NODE_URN + node_id))
    return x509.SubjectAlternativeName(uris)


def _key_usage(*allowed: str) -> x509.KeyUsage:
    usages = "digital_signature content_commitment key_encipherment data_encipherment "
    usages += "key_agreement key_cert_sign crl_sign encipher_only decipher_only"
    return x509.KeyUsage(**{usage: usage in allowed for usage in usages.split()})


def _not_after(cert: x509.Certificate) -> dt.datetime:
    when = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    return when if when is not None else cert.not_valid_after.replace(tzinfo=dt.UTC)


def create_store(
    store_id: str, node_id: str, *, now: dt.datetime | None = None
) -> StoreCredentials:
    """A new store CA and the credentials of its first node (`posedge init`)."""
    check_store_id(store_id)
    check_node_id(node_id)
    start = _now(now) - BACKDATE
    ca_key, ca_key_pem = new_key_pem()
    subject = _name(f"posedge store {store_id}")
    ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .add_extension(_sans(store_id), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    partial = StoreCredentials(
        store_id, node_id, ca_cert.public_bytes(serialization.Encoding.PEM), ca_key_pem, b"", b""
    )
    node_key_pem, csr_pem = make_csr(node_id)
    node_cert_pem = issue_node_certificate(partial, node_id, csr_pem, now=now)
    return StoreCredentials(
        store_id, node_id, partial.ca_cert_pem, ca_key_pem, node_cert_pem, node_key_pem
    )


def make_csr(node_id: str) -> tuple[bytes, bytes]:
    """A new node key and a certificate request for it: (key PEM, CSR PEM)."""
    check_node_id(node_id)
    key, key_pem = new_key_pem()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(node_id))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(NODE_URN + node_id)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def _check_public_key(key: Any) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, STRONG_CURVES):
            raise JoinRefused(f"the request's key is on curve {key.curve.name}; use P-256")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise JoinRefused(f"the request's RSA key has {key.key_size} bits; use P-256")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise JoinRefused(f"the request's key type {type(key).__name__} is not accepted")


def _check_requested_names(csr: x509.CertificateSigningRequest, store_id: str, node_id: str):
    for attribute in csr.subject:
        if attribute.oid == NameOID.COMMON_NAME and attribute.value != node_id:
            raise JoinRefused(f"the request names node {attribute.value!r}, not {node_id!r}")
    if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise JoinRefused("the request names no node (no CN)")
    with contextlib.suppress(x509.ExtensionNotFound):
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        allowed = {STORE_URN + store_id, NODE_URN + node_id}
        for name in san:
            if not isinstance(name, x509.UniformResourceIdentifier) or name.value not in allowed:
                raise JoinRefused(f"the request asks for a name not its own: {name.value!r}")


def issue_node_certificate(
    creds: StoreCredentials, node_id: str, csr_pem: bytes, *, now: dt.datetime | None = None
) -> bytes:
    """Sign `node_id`'s request with the store CA; the CA, not the request, sets the names.

    Raises JoinRefused for a request that is unreadable, not signed by its own key, has a
    weak key, or asks for names other than `node_id`'s.
    """
    check_node_id(node_id)
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
        signed = csr.is_signature_valid
    except (ValueError, TypeError) as exc:
        raise JoinRefused(f"the certificate request cannot be read: {exc}") from None
    if not signed:
        raise JoinRefused("the certificate request is not signed by its own key")
    _check_public_key(csr.public_key())
    _check_requested_names(csr, creds.store_id, node_id)
    ca_cert = x509.load_pem_x509_certificate(creds.ca_cert_pem)
    ca_key = serialization.load_pem_private_key(creds.ca_key_pem, password=None)
    start = _now(now) - BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(node_id))
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(_not_after(ca_cert))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature"), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(_sans(creds.store_id, node_id), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def names_of(cert: x509.Certificate) -> tuple[str, str | None]:
    """(store id, node id or None) from a certificate's posedge URI SANs.

    Raises NotAMember unless it names exactly one store and at most one node.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise NotAMember("the certificate names no posedge store") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    stores = [u.removeprefix(STORE_URN) for u in uris if u.startswith(STORE_URN)]
    nodes = [u.removeprefix(NODE_URN) for u in uris if u.startswith(NODE_URN)]
    if len(stores) != 1 or len(nodes) > 1:
        raise NotAMember(f"the certificate names {len(stores)} stores and {len(nodes)} nodes")
    return stores[0], (nodes[0] if nodes else None)


def check_credentials(creds: StoreCredentials, *, where: dict[str, str] | None = None) -> None:
    """Raise TrustError unless the four parts belong together and name creds' store and node.

    `where` names each part (keys "ca_cert", "ca_key", "node_cert", "node_key") in the
    messages, e.g. the file it came from.
    """
    where = {
        "ca_cert": "the CA certificate",
        "ca_key": "the CA key",
        "node_cert": "the node certificate",
        "node_key": "the node key",
    } | (where or {})

    def fail(part: str, what: str) -> TrustError:
        return TrustError(f"{where[part]}: {what}")

    parsed: dict[str, Any] = {}
    for part, loader in (
        ("ca_cert", x509.load_pem_x509_certificate),
        ("node_cert", x509.load_pem_x509_certificate),
        ("ca_key", lambda pem: serialization.load_pem_private_key(pem, password=None)),
        ("node_key", lambda pem: serialization.load_pem_private_key(pem, password=None)),
    ):
        try:
            parsed[part] = loader(getattr(creds, part + "_pem"))
        except (ValueError, TypeError) as exc:
            raise fail(part, f"cannot be read as PEM ({exc})") from None
    ca, node = parsed["ca_cert"], parsed["node_cert"]
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca or _names(ca) != (creds.store_id, None):
        raise fail("ca_cert", f"not the CA of store {creds.store_id!r}")
    if not _same_key(parsed["ca_key"], ca):
        raise fail("ca_key", "does not match the CA certificate")
    try:
        node.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise fail("node_cert", "was not issued by this store's CA") from None
    if _names(node) != (creds.store_id, creds.node_id):
        raise fail("node_cert", f"does not name node {creds.node_id!r} of {creds.store_id!r}")
    if not _same_key(parsed["node_key"], node):
        raise fail("node_key", "does not match the node certificate")


def _names(cert: x509.Certificate) -> tuple[str, str | None] | None:
    try:
        return names_of(cert)
    except NotAMember:
        return None


def _same_key(private_key: Any, cert: x509.Certificate) -> bool:
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return private_key.public_key().public_bytes(*der) == cert.public_key().public_bytes(*der)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)  # exactly `mode`, whatever the umask
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save(creds: StoreCredentials, directory: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ca.pem, ca.key, node.pem, node.key into `directory` (0700; keys 0600).

    Each file is replaced atomically (a crash leaves the old or the new file, never half of
    one). Refuses to replace existing credentials unless `overwrite`: losing the CA key of a
    store that has other members cannot be undone.
    """
    check_credentials(creds)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    files = {
        CA_CERT: (creds.ca_cert_pem, 0o644),
        CA_KEY: (creds.ca_key_pem, 0o600),
        NODE_CERT: (creds.node_cert_pem, 0o644),
        NODE_KEY: (creds.node_key_pem, 0o600),
    }
    if not overwrite and (present := [n for n in files if (directory / n).exists()]):
        raise TrustError(
            f"{directory / present[0]} exists: this node already has store credentials; "
            "remove them first if you really mean to leave that store"
        )
    for name, (data, mode) in files.items():
        _write_atomic(directory / name, data, mode)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # the renames themselves survive a power cut
    finally:
        os.close(fd)


def load(directory: str | os.PathLike) -> StoreCredentials:
    """Read the credentials `save` wrote; a TrustError names the file at fault."""
    directory = Path(directory)
    data: dict[str, bytes] = {}
    for name in (CA_CERT, CA_KEY, NODE_CERT, NODE_KEY):
        path = directory / name
        try:
            data[name] = path.read_bytes()
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise TrustError(
                f"{path} is missing: this node is not a store member yet "
                "(`posedge init` creates a store, `posedge join CODE` joins one)"
            ) from None
        except OSError as exc:
            raise TrustError(f"{path} cannot be read: {exc.strerror}") from None
        if name.endswith(".key") and mode & 0o077:
            raise TrustError(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600")
    files = {"ca_cert": CA_CERT, "ca_key": CA_KEY, "node_cert": NODE_CERT, "node_key": NODE_KEY}
    where = {part: str(directory / name) for part, name in files.items()}
    try:
        store_id, node_id = names_of(x509.load_pem_x509_certificate(data[NODE_CERT]))
    except (ValueError, TypeError, NotAMember) as exc:
        raise TrustError(f"{where['node_cert']}: not a posedge node certificate ({exc})") from None
    if node_id is None:
        raise TrustError(f"{where['node_cert']}: names no node")
    creds = StoreCredentials(
        store_id, node_id, data[CA_CERT], data[CA_KEY], data[NODE_CERT], data[NODE_KEY]
    )
    check_credentials(creds, where=where)
    return creds


@contextlib.contextmanager
def _pem_path(data: bytes) -> Iterator[str]:
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
    with _pem_path(creds.node_cert_pem + b"\n" + creds.node_key_pem) as path:
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


def fingerprint(cert_pem: bytes) -> str:
    """Hex SHA-256 of a certificate's DER: public, fit for an mDNS TXT record."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise TrustError(f"not a PEM certificate: {exc}") from None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
