"""Store membership: the store's CA and node certificates, and the errors of membership.

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

Pure: no sockets, no files and no clock reads (pass `now`). credentials.py saves and loads
a node's credentials; peer_tls.py makes the TLS contexts of peer links and checks peers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync.errors import SyncError

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


def issue_server_certificate(
    creds: StoreCredentials,
    dns_names: list[str],
    ip_addresses: list[str],
    *,
    validity: dt.timedelta,
    now: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    """A new key and a TLS server certificate for it from the store CA, naming this node's
    host names and addresses (what browsers and terminals check): (certificate PEM, key PEM).
    It ends after `validity` or with the CA, whichever comes first."""
    ca_cert = x509.load_pem_x509_certificate(creds.ca_cert_pem)
    ca_key = serialization.load_pem_private_key(creds.ca_key_pem, password=None)
    key, key_pem = new_key_pem()
    start = _now(now) - BACKDATE
    names = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0] if dns_names else creds.node_id))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(_now(now) + validity, _not_after(ca_cert)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


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


def fingerprint(cert_pem: bytes) -> str:
    """Hex SHA-256 of a certificate's DER: public, fit for an mDNS TXT record."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise TrustError(f"not a PEM certificate: {exc}") from None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
