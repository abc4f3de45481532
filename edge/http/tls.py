"""The API's HTTPS certificate: made by the node itself under the store CA (every member
holds the CA key, sync/membership/trust.py), naming the host name, `<host name>.local`,
`localhost` and every address of the node, so a terminal or browser that trusts the store
CA reaches the node by whichever of them it knows.

The key lives in memory only: a terminal pins the store CA, not this certificate, so a new
one at each start (and whenever the names or addresses change, or the certificate nears its
end) costs nothing. `run` checks every `CHECK_EVERY` seconds and loads a new certificate into
the same SSL context, which new connections then get.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable

import ifaddr  # zeroconf's own dependency: reads the interfaces' addresses (getifaddrs)
from cryptography import x509

from sync.membership.peer_tls import pem_path
from sync.membership.trust import StoreCredentials, fingerprint, issue_server_certificate

log = logging.getLogger(__name__)

VALIDITY = dt.timedelta(days=397)  # what browsers accept of a server certificate
RENEW_BEFORE = dt.timedelta(days=30)
CHECK_EVERY = 30.0  # seconds between looks at the host name and addresses


def shown_fingerprint(fingerprint: str) -> str:
    """A hex fingerprint as browsers and OS dialogs show it: AB:CD:..."""
    return ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()


def node_names() -> tuple[list[str], list[str]]:
    """This machine's host names and its interfaces' addresses (link-local ones left out:
    a URL cannot carry their interface)."""
    host = socket.gethostname()
    dns = list(dict.fromkeys([host, f"{host}.local", "localhost"]))
    addresses = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ipaddress.ip_address(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
            if not address.is_link_local:
                addresses.add(str(address))
    return dns, sorted(addresses, key=lambda a: ipaddress.ip_address(a).packed)


class ApiCertificate:
    """The node's HTTPS certificate and the server SSL context that presents it."""

    def __init__(
        self,
        creds: StoreCredentials,
        *,
        names: Callable[[], tuple[list[str], list[str]]] = node_names,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.ca_pem = creds.ca_cert_pem
        self.ca_fingerprint = fingerprint(creds.ca_cert_pem)
        self._creds = creds
        self._names = names
        self._now = now
        self._current: tuple[list[str], list[str]] | None = None
        self._ends = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2  # terminals' and TVs' browsers
        self.refresh()

    def refresh(self) -> bool:
        """Make a new certificate if the names changed or the current one nears its end;
        True if it did."""
        wanted = self._names()
        if wanted == self._current and self._now() < self._ends - RENEW_BEFORE:
            return False
        cert_pem, key_pem = issue_server_certificate(
            self._creds, *wanted, validity=VALIDITY, now=self._now()
        )
        with pem_path(cert_pem + b"\n" + key_pem) as path:
            self.context.load_cert_chain(path)
        self._current = wanted
        self._ends = x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
        dns, addresses = wanted
        log.info("HTTPS certificate for %s", ", ".join(dns + addresses))
        return True

    async def run(self) -> None:
        """Keep the certificate's names current until cancelled (in the event loop's own
        thread: the context is not swapped under a handshake in progress; a refresh takes
        about a millisecond)."""
        while True:
            await asyncio.sleep(CHECK_EVERY)
            self.refresh()
