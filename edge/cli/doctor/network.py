"""`posedge doctor`'s checks of the network: the node's ports, mDNS on the chosen
interfaces, the store's other nodes, and the hub."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import secrets
import socket
import time

import aiohttp
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge.cli.doctor.findings import Finding, ok, problem, warning
from edge.config.model import Config
from edge.http.tls import shown_fingerprint
from edge.replication.upstream import LINK as HUB_LINK
from edge.replication.upstream import hub_url
from sync.discovery import (
    SERVICE_TYPE,
    MalformedAnnouncement,
    choose_interfaces,
    decode_txt,
    read_interfaces,
)
from sync.errors import StoreError
from sync.hub.tls import client_context
from sync.membership.trust import fingerprint
from sync.store_file import peek

TEST_TYPE = "_posedge-doctor._tcp.local."  # never browsed by a daemon
BROWSE_SECONDS = 3.0  # listening for the store's nodes
RESOLVE_MS = 3000
RECENT_SYNC = 15 * 60.0  # seconds: a peer synced this recently counts as seen
HUB_TIMEOUT = 10.0


def check_ports(config: Config, *, daemon_running: bool) -> list[Finding]:
    """The API's port and (for a member of a store) the peers' port are free to listen on,
    or held by this node's own running daemon."""
    ports = [("http", config.http.host, config.http.port)]
    if member(config):
        ports.append(("peers", config.peers.host, config.peers.port))
    findings = []
    for what, host, port in ports:
        name = f"port.{what}"
        if port == 0:
            findings.append(ok(name, f"{what}.port = 0: any free port"))
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemon does
                sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and daemon_running:
                findings.append(ok(name, f"{host}:{port} is in use by this node's running daemon"))
            elif exc.errno == errno.EADDRINUSE:
                findings.append(
                    problem(
                        name,
                        f"{host}:{port} is taken by another program",
                        f"find it with: sudo ss -ltnp 'sport = :{port}'; stop it, or set "
                        f"{what}.port",
                    )
                )
            else:
                found = f"cannot listen on {host}:{port}: {exc.strerror}"
                findings.append(problem(name, found, f"set {what}.host and {what}.port"))
        else:
            findings.append(ok(name, f"{host}:{port} is free"))
    return findings


def member(config: Config) -> bool:
    return (config.trust_dir / "node.pem").exists()


def check_https(config: Config) -> Finding:
    """Whether the LAN reaches the API over HTTPS, and the store CA's fingerprint to check
    a download of it against (the UI's /ui/store-ca)."""
    if member(config):
        ca = fingerprint((config.trust_dir / "ca.pem").read_bytes())
        plain = " and the kitchen screens (http.plain_kds)" if config.http.plain_kds else ""
        return ok(
            "https",
            f"the API answers the LAN over HTTPS under the store CA {shown_fingerprint(ca)}; "
            f"plain HTTP only this machine{plain}",
        )
    try:
        loopback = ipaddress.ip_address(config.http.host).is_loopback
    except ValueError:  # a host name
        loopback = config.http.host == "localhost"
    if loopback:
        return ok("https", f"the API listens on {config.http.host} only: plain HTTP")
    return warning(
        "https",
        "not a member of a store: the API answers only this machine (127.0.0.1), as the "
        "LAN gets HTTPS under a store CA",
        "run posedge init on the store's first node, posedge join on the others",
    )


async def check_mdns(config: Config) -> tuple[Finding, dict[str, str]]:
    """mDNS works on the chosen interfaces: an announcement made here resolves from a second
    listener; also returns the posedge nodes heard meanwhile (node id -> store id)."""
    if not config.peers.mdns:
        static = ", ".join(config.peers.static) or "none"
        return ok("mdns", f"off (peers.mdns = false); static peers: {static}"), {}
    wanted = list(config.peers.interfaces) or None
    available = read_interfaces()
    chosen = choose_interfaces(available, wanted)
    absent = [w for w in wanted or () if not choose_interfaces(available, [w])]
    todo = "check the LAN cable and DHCP, or set peers.interfaces (ip -4 addr lists them)"
    if absent:
        found = f"peers.interfaces: no IPv4 address on {', '.join(absent)}"
        return problem("mdns", found, todo), {}
    if not chosen:
        found = (
            "no interface but loopback (or docker's, a VPN's) has an IPv4 address: "
            "the store's other nodes cannot find this one"
        )
        todo = (
            "connect the node to the store's LAN (cable, DHCP; ip -4 addr lists the addresses); "
            "a node that runs alone, or reaches its peers by address only (peers.static), sets "
            "peers.mdns = false"
        )
        return problem("mdns", found, todo), {}
    addresses = [i.address for i in chosen]
    where = ", ".join(f"{i.name} {i.address}" for i in chosen)
    try:
        resolved, heard = await _self_test(addresses)
    except OSError as exc:
        return problem("mdns", f"cannot use mDNS on {where}: {exc}", todo), {}
    if not resolved:
        return (
            problem(
                "mdns",
                f"an announcement made on {where} did not resolve",
                "a firewall must let UDP 5353 (multicast 224.0.0.251) in and out",
            ),
            heard,
        )
    return ok("mdns", f"announcing and resolving on {where}"), heard


async def _self_test(addresses: list[str]) -> tuple[bool, dict[str, str]]:
    announcer = AsyncZeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
    listener = AsyncZeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
    names: set[str] = set()

    def on_service(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    browser = AsyncServiceBrowser(listener.zeroconf, SERVICE_TYPE, handlers=[on_service])
    try:
        label = f"doctor-{secrets.token_hex(4)}"
        await announcer.async_register_service(
            AsyncServiceInfo(
                TEST_TYPE,
                f"{label}.{TEST_TYPE}",
                server=f"{label}.local.",
                port=9,
                parsed_addresses=addresses,
            )
        )
        probe = AsyncServiceInfo(TEST_TYPE, f"{label}.{TEST_TYPE}")
        resolved = await probe.async_request(listener.zeroconf, RESOLVE_MS)
        await asyncio.sleep(BROWSE_SECONDS)
        heard = {}
        for name in sorted(names):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if await info.async_request(listener.zeroconf, RESOLVE_MS):
                with contextlib.suppress(MalformedAnnouncement):
                    node = decode_txt(info.properties, host="", port=info.port or 0)
                    heard[node.node_id] = node.store_id
        return resolved, heard
    finally:
        await browser.async_cancel()
        await announcer.async_unregister_all_services()
        await announcer.async_close()
        await listener.async_close()


def check_peers(config: Config, heard: dict[str, str]) -> Finding:
    """The store's other nodes: announced on the LAN now, and when each last synced here."""
    if not member(config):
        return ok(
            "peers",
            "not a member of a store: this node works alone (posedge init, posedge join)",
        )
    me, store = config.node.name, config.store.id
    announced = sorted(node for node, s in heard.items() if s == store and node != me)
    synced = last_synced(config)
    now = time.time()
    parts = []
    if announced:
        parts.append(f"announced now: {', '.join(announced)}")
    if synced:
        ages = ", ".join(f"{n} {_ago(now - at)}" for n, at in sorted(synced.items()))
        parts.append(f"last synced: {ages}")
    todo = (
        "if the store has other nodes: check that they run and share this LAN "
        f"(peers.interfaces); a firewall must pass UDP 5353 and TCP {config.peers.port}; "
        "or list them in peers.static"
    )
    if announced or any(now - at < RECENT_SYNC for at in synced.values()):
        return ok("peers", "; ".join(parts))
    if synced:
        return warning("peers", f"no other node of store {store} seen now; {parts[-1]}", todo)
    return warning("peers", f"no other node of store {store} seen yet", todo)


def last_synced(config: Config) -> dict[str, float]:
    """Node id -> when it last acknowledged something of this node's order log."""
    try:
        seen = peek(config.store_path)
    except StoreError:
        return {}
    return {link: at for link, at in seen.link_contacts.items() if link != HUB_LINK}


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


async def check_hub(config: Config) -> Finding:
    """The hub answers, and takes the store's token.

    The check asks the hub's sync endpoint over plain HTTPS with the token and without a
    node's name: the hub checks the token first (401 when it refuses it) and then refuses
    the missing name (400), so a 400 means the token was accepted, and no sync session is
    opened on the hub's side.
    """
    upstream = config.upstream
    if not upstream.url:
        return ok("hub", "no hub configured (upstream.url): the store runs on its own")
    url = hub_url(upstream.url).replace("ws", "http", 1)
    tls = client_context(upstream.ca) if url.startswith("https:") else False
    headers = {"Authorization": f"Bearer {upstream.token}"}
    timeout = aiohttp.ClientTimeout(total=HUB_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(url, headers=headers, ssl=tls) as answer,
        ):
            status = answer.status
    except aiohttp.ClientSSLError as exc:
        return problem(
            "hub",
            f"{url}: its certificate is not trusted: {exc}",
            "set upstream.ca to a copy of the hub's certificate (hub.pem)",
        )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return warning(
            "hub",
            f"{url} cannot be reached now: {exc or type(exc).__name__}",
            "orders sync when it can; if this lasts, check the internet connection, DNS and "
            "that the firewall lets this node out to the hub's port",
        )
    if status in (401, 403):
        return problem(
            "hub",
            f"{url} refused the store's token",
            "set upstream.token to the token HQ has for this store (posedge hub store add)",
        )
    if status == 400:
        return ok("hub", f"{url} answers and accepts the store's token")
    return warning("hub", f"{url} answered HTTP {status}", "check upstream.url")
