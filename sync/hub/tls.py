"""The hub's TLS certificate: one it was given (a chain's own PKI or a public CA), or a
self-signed one it makes on first start, which nodes then trust by file
(`upstream.ca`: a copy of the hub's `hub.pem`)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from sync.membership.trust import new_key_pem

VALID_FOR = dt.timedelta(days=3650)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def ensure_self_signed(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """`hub.pem` and `hub.key` in `directory`, made for `hosts` if they are not there."""
    cert_path, key_path = directory / "hub.pem", directory / "hub.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key, key_bytes = new_key_pem()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"posedge hub {hosts[0]}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


def client_context(ca_path: Path | None) -> ssl.SSLContext:
    """Trust the system's CAs, or only `ca_path` (the hub's own certificate) when given."""
    context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
