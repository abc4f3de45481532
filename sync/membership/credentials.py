"""A node's store credentials on disk: ca.pem, ca.key, node.pem and node.key in one
directory, written atomically, read back checked (sync/membership/trust.py)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography import x509

from sync.membership.trust import (
    CA_CERT,
    CA_KEY,
    NODE_CERT,
    NODE_KEY,
    NotAMember,
    StoreCredentials,
    TrustError,
    check_credentials,
    names_of,
)


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
