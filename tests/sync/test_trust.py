"""Store membership: certificates, their files, and mutual TLS 1.3 over loopback."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import ssl
import stat

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync.membership.credentials import load, save
from sync.membership.peer_tls import (
    MembershipPolicy,
    client_ssl_context,
    peer_of,
    server_ssl_context,
)
from sync.membership.trust import (
    JoinRefused,
    NodeRemoved,
    NotAMember,
    StoreCredentials,
    TrustError,
    WrongStore,
    create_store,
    fingerprint,
    issue_node_certificate,
    make_csr,
)
from tests.support.tls_peer import PeerServer, exchange

NOW = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)


def member(creds: StoreCredentials, node_id: str) -> StoreCredentials:
    """Credentials of another node of creds' store, admitted by creds' CA."""
    key_pem, csr_pem = make_csr(node_id)
    cert_pem = issue_node_certificate(creds, node_id, csr_pem)
    return dataclasses.replace(creds, node_id=node_id, node_cert_pem=cert_pem, node_key_pem=key_pem)


def self_signed(trusting: StoreCredentials, node_id: str) -> StoreCredentials:
    """A node that made its own certificate with store names in it, but no CA signature."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)])
    sans = [
        x509.UniformResourceIdentifier(f"urn:posedge:store:{trusting.store_id}"),
        x509.UniformResourceIdentifier(f"urn:posedge:node:{node_id}"),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return dataclasses.replace(
        trusting,
        node_id=node_id,
        node_cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        node_key_pem=key_pem,
    )


async def test_two_members_see_each_other_over_mutual_tls(store_a):
    node_2 = member(store_a, "node-2")
    async with PeerServer(store_a) as server:
        seen, line = await exchange(server.port, client_ssl_context(node_2))
    assert seen == ("store-a", "node-1")
    assert line == b"ok store-a node-1\n"
    assert server.accepted == ["node-2"]


async def test_aiohttp_websocket_link_knows_the_node_at_each_end(store_a):
    policy = MembershipPolicy("store-a", frozenset)
    app = web.Application()

    async def link(request: web.Request) -> web.WebSocketResponse:
        peer = policy.check(request.transport)  # before a byte of the link is trusted
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(peer)
        await ws.close()
        return ws

    app.router.add_get("/link", link)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(store_a))
    await site.start()
    port = runner.addresses[0][1]
    try:
        context = client_ssl_context(member(store_a, "node-3"))
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"wss://127.0.0.1:{port}/link", ssl=context) as ws,
        ):
            assert policy.check(ws) == "node-1"
            assert await ws.receive_str() == "node-3"
    finally:
        await runner.cleanup()


async def test_node_of_another_store_is_refused_both_ways(store_a, store_b):
    # B's node trusts A's CA (its certificate is public), so only A's server can refuse it
    intruder = dataclasses.replace(member(store_b, "node-9"), ca_cert_pem=store_a.ca_cert_pem)
    async with PeerServer(store_a) as server:
        _, line = await exchange(server.port, client_ssl_context(intruder))
        assert line == b""
        assert server.accepted == []
    async with PeerServer(store_b) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await exchange(server.port, client_ssl_context(member(store_a, "node-2")))
        assert server.accepted == []


async def test_self_signed_node_is_refused(store_a):
    async with PeerServer(store_a) as server:
        _, line = await exchange(server.port, client_ssl_context(self_signed(store_a, "node-6")))
        assert line == b""
        assert server.accepted == []
    async with PeerServer(self_signed(store_a, "node-6")) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await exchange(server.port, client_ssl_context(member(store_a, "node-2")))


async def test_client_without_certificate_is_refused(store_a):
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.check_hostname = False
    bare.load_verify_locations(cadata=store_a.ca_cert_pem.decode())
    async with PeerServer(store_a) as server:
        _, line = await exchange(server.port, bare)
        assert line == b""
        assert server.accepted == []


async def test_removed_node_is_refused_by_the_policy(store_a):
    removed = member(store_a, "node-7")
    async with PeerServer(store_a, removed=frozenset({"node-7"})) as server:
        _, line = await exchange(server.port, client_ssl_context(removed))
        assert line == b""
        assert server.accepted == []
        assert [type(e) for e in server.refused] == [NodeRemoved]
        _, line = await exchange(server.port, client_ssl_context(member(store_a, "node-8")))
        assert line == b"ok store-a node-1\n"


async def test_tls_1_2_client_is_refused(store_a):
    old = client_ssl_context(member(store_a, "node-2"))
    old.minimum_version = ssl.TLSVersion.TLSv1_2
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    async with PeerServer(store_a) as server:
        with contextlib.suppress(ssl.SSLError):
            assert await exchange(server.port, old) == (None, b"")
        assert server.accepted == []


def test_contexts_trust_only_the_store_ca_without_host_names(store_a):
    for context in (server_ssl_context(store_a), client_ssl_context(store_a)):
        assert [ca["subject"] for ca in context.get_ca_certs()] == [
            ((("organizationName", "posedge"),), (("commonName", "posedge store store-a"),))
        ]
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is False
        assert context.minimum_version == context.maximum_version == ssl.TLSVersion.TLSv1_3


def test_peer_of_reads_store_and_node_and_refuses_other_stores(store_a, store_b):
    der = x509.load_pem_x509_certificate(store_b.node_cert_pem).public_bytes(
        serialization.Encoding.DER
    )
    assert peer_of(der) == ("store-b", "node-1")
    with pytest.raises(WrongStore, match="store-b"):
        peer_of(der, store_id="store-a")
    with pytest.raises(WrongStore):
        MembershipPolicy("store-a", set).check(der)
    ca_der = x509.load_pem_x509_certificate(store_a.ca_cert_pem).public_bytes(
        serialization.Encoding.DER
    )
    with pytest.raises(NotAMember, match="no node"):
        peer_of(ca_der)
    with pytest.raises(NotAMember, match="no certificate"):
        peer_of(b"")
    with pytest.raises(NotAMember, match="not TLS"):
        MembershipPolicy("store-a", set).check(None)


def test_store_ca_is_a_ten_year_p256_ca_naming_the_store():
    creds = create_store("s1", "node-1", now=NOW)
    ca = x509.load_pem_x509_certificate(creds.ca_cert_pem)
    assert ca.subject.rfc4514_string() == "CN=posedge store s1,O=posedge"
    assert ca.issuer == ca.subject
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    sans = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:posedge:store:s1"]
    life = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert dt.timedelta(days=3650) <= life <= dt.timedelta(days=3660)
    assert ca.not_valid_before_utc <= NOW
    assert repr(creds) == "StoreCredentials(store_id='s1', node_id='node-1')"


def test_ca_decides_the_names_of_a_node_certificate(store_a):
    _, csr_pem = make_csr("node-4")
    cert = x509.load_pem_x509_certificate(issue_node_certificate(store_a, "node-4", csr_pem))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node-4"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:posedge:store:store-a",
        "urn:posedge:node:node-4",
    ]
    assert not sans.get_values_for_type(x509.DNSName)
    assert not sans.get_values_for_type(x509.IPAddress)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    ca = x509.load_pem_x509_certificate(store_a.ca_cert_pem)
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc == ca.not_valid_after_utc


def _csr(key, common_name: str, uris: list[str] = ()) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if uris:
        names = [x509.UniformResourceIdentifier(u) for u in uris]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_issue_refuses_requests_for_other_names(store_a):
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(JoinRefused, match="node-1"):
        issue_node_certificate(store_a, "node-5", _csr(key, "node-1"))
    with pytest.raises(JoinRefused, match="urn:posedge:node:node-1"):
        issue_node_certificate(store_a, "node-5", _csr(key, "node-5", ["urn:posedge:node:node-1"]))
    with pytest.raises(JoinRefused, match="store-b"):
        issue_node_certificate(
            store_a, "node-5", _csr(key, "node-5", ["urn:posedge:store:store-b"])
        )
    assert issue_node_certificate(store_a, "node-5", _csr(key, "node-5"))


def test_issue_refuses_weak_keys_and_forged_requests(store_a):
    with pytest.raises(JoinRefused, match="1024 bits"):
        weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        issue_node_certificate(store_a, "node-5", _csr(weak, "node-5"))
    with pytest.raises(JoinRefused, match="curve secp192r1"):
        small = ec.generate_private_key(ec.SECP192R1())
        issue_node_certificate(store_a, "node-5", _csr(small, "node-5"))
    _, csr_pem = make_csr("node-5")
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature: the request no longer proves its key
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(JoinRefused, match="not signed"):
        issue_node_certificate(store_a, "node-5", forged)
    with pytest.raises(JoinRefused, match="cannot be read"):
        issue_node_certificate(store_a, "node-5", b"not a csr")


def test_ids_are_checked():
    with pytest.raises(TrustError, match="store id"):
        create_store("a store", "node-1")
    with pytest.raises(TrustError, match="node id"):
        make_csr("node/1")


def test_fingerprint_is_sha256_of_the_der(store_a):
    der = x509.load_pem_x509_certificate(store_a.node_cert_pem).public_bytes(
        serialization.Encoding.DER
    )
    assert fingerprint(store_a.node_cert_pem) == hashlib.sha256(der).hexdigest()
    assert len(fingerprint(store_a.ca_cert_pem)) == 64


def test_saved_credentials_reload_with_private_modes(tmp_path, store_a):
    directory = tmp_path / "trust"
    save(store_a, directory)
    assert load(directory) == store_a
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("ca.key", "node.key"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == [
        "ca.key",
        "ca.pem",
        "node.key",
        "node.pem",
    ]  # no temporary files left behind


def test_save_does_not_replace_credentials_unless_asked(tmp_path, store_a, store_b):
    save(store_a, tmp_path)
    with pytest.raises(TrustError, match=r"ca\.pem exists"):
        save(store_b, tmp_path)
    assert load(tmp_path) == store_a
    save(store_b, tmp_path, overwrite=True)
    assert load(tmp_path) == store_b


def test_missing_file_is_named(tmp_path, store_a):
    save(store_a, tmp_path)
    (tmp_path / "node.key").unlink()
    with pytest.raises(TrustError, match=r"node\.key is missing.*posedge join"):
        load(tmp_path)


@pytest.mark.parametrize("name", ["ca.pem", "ca.key", "node.pem", "node.key"])
def test_corrupt_file_is_named(tmp_path, store_a, name):
    save(store_a, tmp_path)
    (tmp_path / name).write_bytes(b"-----BEGIN GARBAGE-----\nnot base64\n")
    with pytest.raises(TrustError, match=str(tmp_path / name).replace(".", r"\.")):
        load(tmp_path)


def test_mismatched_files_are_named(tmp_path, store_a, store_b):
    save(store_a, tmp_path)
    (tmp_path / "node.key").write_bytes(member(store_a, "node-2").node_key_pem)
    with pytest.raises(TrustError, match=r"node\.key: does not match"):
        load(tmp_path)
    save(store_a, tmp_path, overwrite=True)
    (tmp_path / "ca.pem").write_bytes(store_b.ca_cert_pem)
    with pytest.raises(TrustError, match=r"ca\.pem: not the CA of store 'store-a'"):
        load(tmp_path)
    save(store_a, tmp_path, overwrite=True)
    (tmp_path / "ca.key").write_bytes(store_b.ca_key_pem)
    with pytest.raises(TrustError, match=r"ca\.key: does not match"):
        load(tmp_path)


def test_key_readable_by_others_is_refused(tmp_path, store_a):
    save(store_a, tmp_path)
    (tmp_path / "ca.key").chmod(0o644)
    with pytest.raises(TrustError, match=r"ca\.key is readable by others.*chmod 600"):
        load(tmp_path)
