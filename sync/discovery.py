"""Peer discovery on the store's LAN: announce this node over mDNS, find the store's others.

Each node announces `_posedge._tcp.local.` with a TXT record of public data only (store id,
node id, sync protocol version, certificate fingerprint) and browses for the others.
`Discovery.peers` holds the nodes of the same store; the peer links decide whom to trust
(mDNS is untrusted: the fingerprint is checked against the TLS certificate, not believed).

The TXT codec and the choice of interfaces are pure; `Discovery` is the adapter over
python-zeroconf's asyncio API, run on the caller's event loop (no thread of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass

import ifaddr  # zeroconf's own dependency: reads the interfaces' addresses (getifaddrs)
from zeroconf import IPVersion, NonUniqueNameException, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from sync.errors import SyncError

log = logging.getLogger(__name__)

SERVICE_TYPE = "_posedge._tcp.local."
PROTOCOL_VERSION = 1  # of the peer sync protocol; a node announces the one it speaks
RESOLVE_TIMEOUT_MS = 3000  # one resolve attempt (zeroconf counts milliseconds)
RESOLVE_RETRY_CAP = 30.0  # seconds between resolve attempts of a silent service, at most
CONFIRM_WINDOW = 10.0  # after this node's addresses change, peers not seen again are dropped

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{64}")
_PROTOCOL = re.compile(r"[0-9]{1,9}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9-]{1,63}")
_SKIPPED_PREFIXES = ("docker", "tun", "tap", "wg", "tailscale", "zt")
_DOCKER_NETWORK = re.compile(r"br-[0-9a-f]{12}")  # the bridge of a docker network


class DiscoveryError(SyncError):
    """Discovery could not announce this node."""


class MalformedAnnouncement(SyncError):
    """A TXT record is not a posedge announcement (missing or invalid field)."""


@dataclass(frozen=True, slots=True)
class PeerAnnouncement:
    """What a node announces: who it is, the protocol it speaks, where to reach it."""

    store_id: str
    node_id: str
    protocol: int
    fingerprint: str  # hex sha256 of the node's certificate (public)
    host: str  # IP address
    port: int


def encode_txt(announcement: PeerAnnouncement) -> dict[bytes, bytes]:
    """The TXT properties announcing `announcement` (host and port travel in SRV and A).

    Raises ValueError for a field that `decode_txt` would refuse."""
    for what, value, pattern in (
        ("store id", announcement.store_id, _ID),
        ("node id", announcement.node_id, _ID),
        ("fingerprint", announcement.fingerprint, _FINGERPRINT),
        ("protocol", str(announcement.protocol), _PROTOCOL),
    ):
        if not pattern.fullmatch(value):
            raise ValueError(f"cannot announce {what} {value!r}: must match {pattern.pattern}")
    return {
        b"store": announcement.store_id.encode(),
        b"node": announcement.node_id.encode(),
        b"proto": str(announcement.protocol).encode(),
        b"fp": announcement.fingerprint.lower().encode(),
    }


def decode_txt(
    properties: Mapping[bytes, bytes | None], *, host: str, port: int
) -> PeerAnnouncement:
    """The announcement in TXT `properties` of a node at `host`:`port`; unknown keys are
    ignored. Raises MalformedAnnouncement, naming the field, for anything else."""

    def field(key: bytes, pattern: re.Pattern[str]) -> str:
        raw = properties.get(key)
        if raw is None:
            raise MalformedAnnouncement(f"TXT has no {key.decode()}= value")
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedAnnouncement(f"TXT {key.decode()}= is not ASCII: {raw!r}") from None
        if not pattern.fullmatch(value):
            raise MalformedAnnouncement(f"TXT {key.decode()}={value!r} is not valid")
        return value

    return PeerAnnouncement(
        store_id=field(b"store", _ID),
        node_id=field(b"node", _ID),
        protocol=int(field(b"proto", _PROTOCOL)),
        fingerprint=field(b"fp", _FINGERPRINT).lower(),
        host=host,
        port=port,
    )


@dataclass(frozen=True, slots=True)
class Interface:
    """One IPv4 address of a network interface."""

    name: str
    address: str
    prefix: int
    master: str | None = None  # the bridge this interface is a port of, if any

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False)


def skipped(interface: Interface) -> bool:
    """Whether an interface is left out when none are configured: loopback, docker's
    (`docker*`, `br-<id>` networks, veths on their bridges) and VPNs' (`tun*`, `tap*`,
    `wg*`, `tailscale*`, `zt*`)."""
    if ipaddress.IPv4Address(interface.address).is_loopback or interface.name == "lo":
        return True
    for name in (interface.name, interface.master or ""):
        if name.startswith(_SKIPPED_PREFIXES) or _DOCKER_NETWORK.fullmatch(name):
            return True
    return False


def choose_interfaces(available: Iterable[Interface], wanted: list[str] | None) -> list[Interface]:
    """The addresses to announce on: those of the `wanted` interface names or addresses (in
    that order, those present now), or with None every address of an interface not
    `skipped`."""
    available = list(available)
    if wanted is None:
        return [interface for interface in available if not skipped(interface)]
    chosen: list[Interface] = []
    for want in wanted:
        for interface in available:
            if want in (interface.name, interface.address) and interface not in chosen:
                chosen.append(interface)
    return chosen


def choose_host(addresses: Iterable[str], networks: Iterable[ipaddress.IPv4Network]) -> str | None:
    """The address to reach a peer at: the first (zeroconf lists the newest first) on one of
    this node's networks, else the first; None when it announced no IPv4 address."""
    candidates = []
    for address in addresses:
        with contextlib.suppress(ValueError):
            candidates.append(ipaddress.IPv4Address(address))
    networks = list(networks)
    for candidate in candidates:
        if any(candidate in network for network in networks):
            return str(candidate)
    return str(candidates[0]) if candidates else None


def _fit(text: str, allowed: re.Pattern[str], joiner: str) -> str:
    """`text` as one DNS label: itself when `allowed`, else a readable prefix and a digest
    (so two ids never share a label)."""
    if allowed.fullmatch(text) and len(text) <= 63:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9-]", "-", text)[:54] + joiner + digest


def instance_name(store_id: str, node_id: str) -> str:
    """This node's service name: `<store> <node>._posedge._tcp.local.`."""
    label = _fit(f"{store_id} {node_id}", re.compile(r"[A-Za-z0-9_-]+ [A-Za-z0-9_-]+"), " ")
    return f"{label}.{SERVICE_TYPE}"


def server_name(store_id: str, node_id: str) -> str:
    """This node's own host name, `<node>.<store>.posedge.local.` (the namespaces and
    containers of one machine share the system host name, so it is not used)."""
    node, store = _fit(node_id, _HOST_LABEL, "-"), _fit(store_id, _HOST_LABEL, "-")
    return f"{node}.{store}.posedge.local."


def read_interfaces() -> list[Interface]:
    """Every IPv4 address of this network namespace, with its interface."""
    found = []
    for adapter in ifaddr.get_adapters():
        try:
            master = os.path.basename(os.readlink(f"/sys/class/net/{adapter.name}/master"))
        except OSError:
            master = None
        for ip in adapter.ips:
            if isinstance(ip.ip, str):  # IPv4; IPv6 comes as a tuple
                found.append(Interface(adapter.name, ip.ip, ip.network_prefix, master))
    return found


class Discovery:
    """Announce this node and follow the same store's other nodes on the LAN.

    `interfaces` names the interfaces (or IPv4 addresses) to announce on and browse; None
    means every IPv4 interface but those `skipped` (loopback, docker's, VPNs'). The
    addresses are read again every `address_poll_interval` seconds; when they change, the
    node is announced anew on the new set (its peers follow; if the old address still
    works they may see it leave and come back).

    `on_change(peers)` is called on the event loop, with a copy of `peers`, whenever that
    changes; never after `close()` began. `start()` and `close()` run on the loop that
    will run discovery; `close()` is safe twice.
    """

    def __init__(
        self,
        *,
        store_id: str,
        node_id: str,
        port: int,
        fingerprint: str,
        interfaces: list[str] | None,
        on_change: Callable[[dict[str, PeerAnnouncement]], None],
        protocol: int = PROTOCOL_VERSION,
        address_poll_interval: float = 10.0,
    ) -> None:
        own = PeerAnnouncement(store_id, node_id, protocol, fingerprint.lower(), "", port)
        self._txt = encode_txt(own)  # raises ValueError for ids it could not announce
        if not 0 < port < 65536:
            raise ValueError(f"cannot announce port {port}")
        self.store_id, self.node_id, self.port = store_id, node_id, port
        self._interfaces = interfaces
        self._on_change = on_change
        self._poll_interval = address_poll_interval
        self._name = instance_name(store_id, node_id)
        self._server = server_name(store_id, node_id)
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._announcing: asyncio.Future | None = None
        self._addresses: tuple[str, ...] = ()
        self._networks: list[ipaddress.IPv4Network] = []
        self._by_name: dict[str, PeerAnnouncement] = {}  # service name -> what it announced
        self._unconfirmed: set[str] = set()
        self._resolving: dict[str, asyncio.Task] = {}  # service name -> its current resolve
        self._sweep: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()  # every task this object started, until done
        self._started = self._closed = self._failed = False

    @property
    def peers(self) -> dict[str, PeerAnnouncement]:
        """node id -> announcement of the other nodes of this store (the latest wins)."""
        return {a.node_id: a for a in self._by_name.values()}

    async def start(self) -> None:
        """Announce this node and browse. Raises DiscoveryError when another node on the
        LAN already announces this store's node id; with no address yet, waits for one."""
        if self._started:
            raise RuntimeError("Discovery.start() called twice")
        self._started = True
        interfaces = self._read()
        try:
            await self._open(interfaces)
        except BaseException:
            await self.close()
            raise
        self._spawn(self._watch_addresses())

    async def close(self) -> None:
        """Withdraw the announcement (goodbye packets), stop browsing; safe twice. Called
        in a task being cancelled (a stopping node's), it still says goodbye."""
        if self._closed:
            return
        self._closed = True
        await _cancel(self._tasks)
        self._resolving.clear()
        await self._shut()
        self._by_name.clear()

    # -- announcing

    def _read(self) -> list[Interface]:
        return choose_interfaces(read_interfaces(), self._interfaces)

    async def _open(self, interfaces: list[Interface]) -> None:
        self._addresses = tuple(i.address for i in interfaces)
        self._networks = [i.network for i in interfaces]
        self._failed = False
        if not interfaces:
            log.warning(
                "discovery: no IPv4 address to announce %s on (interfaces: %s); "
                "waiting for one (check the LAN cable, DHCP, or the interfaces setting)",
                self.node_id,
                self._interfaces or "all but loopback, docker and VPN",
            )
            return
        self._failed = True  # until announced: the address watch tries again
        # Made inside a coroutine, zeroconf runs on this loop instead of a thread of its own.
        aiozc = AsyncZeroconf(interfaces=list(self._addresses), ip_version=IPVersion.V4Only)
        self._aiozc = aiozc
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            self._name,
            server=self._server,
            port=self.port,
            properties=self._txt,
            parsed_addresses=list(self._addresses),
        )
        try:
            self._announcing = await aiozc.async_register_service(info)
            self._browser = AsyncServiceBrowser(
                aiozc.zeroconf, SERVICE_TYPE, handlers=[self._on_service]
            )
        except BaseException as exc:
            await self._shut()
            if isinstance(exc, NonUniqueNameException):
                raise DiscoveryError(
                    f"another node on the LAN already announces node {self.node_id!r} of "
                    f"store {self.store_id!r}; give every node of a store its own node name"
                ) from None
            raise
        self._failed = False
        log.info("discovery: announcing %s on %s", self._name, ", ".join(self._addresses))

    async def _shut(self) -> None:
        aiozc, browser, announcing = self._aiozc, self._browser, self._announcing
        self._aiozc = self._browser = self._announcing = None
        if announcing is not None and not announcing.done():
            await _cancel([announcing])
        if browser is not None:
            await browser.async_cancel()
        if aiozc is not None:
            await aiozc.async_close()  # unregisters: goodbye packets, then the sockets

    async def _watch_addresses(self) -> None:
        """Every poll: announce anew if this node's addresses changed; refresh the peers
        from the cache (a peer's old address expires a second after its new one came)."""
        failing = False
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                interfaces = self._read()
                changed = {i.address for i in interfaces} != set(self._addresses)
                if changed:
                    log.info(
                        "discovery: addresses changed from %s to %s; announcing anew",
                        ", ".join(self._addresses) or "none",
                        ", ".join(i.address for i in interfaces) or "none",
                    )
                if changed or self._failed:
                    await self._reopen(interfaces)
                self._refresh_from_cache()
            except Exception as exc:  # the next poll tries again
                if not failing:
                    log.warning(
                        "discovery: cannot announce on %s: %s; trying again every %.0f s",
                        ", ".join(self._addresses) or "no address",
                        exc,
                        self._poll_interval,
                    )
                failing = True
                continue
            if failing:
                log.info("discovery: announcing again on %s", ", ".join(self._addresses))
                failing = False

    async def _reopen(self, interfaces: list[Interface]) -> None:
        await _cancel([*self._resolving.values(), *([self._sweep] if self._sweep else [])])
        self._resolving.clear()
        await self._shut()
        # Keep the peers through the change; the new browser finds them again, and those
        # it does not find within CONFIRM_WINDOW are gone.
        self._unconfirmed = set(self._by_name)
        self._sweep = self._spawn(self._sweep_unconfirmed())
        await self._open(interfaces)

    async def _sweep_unconfirmed(self) -> None:
        await asyncio.sleep(CONFIRM_WINDOW)
        before = self.peers
        for name in self._unconfirmed:
            self._by_name.pop(name, None)
        self._unconfirmed.clear()
        self._notify_if_changed(before)

    # -- browsing

    def _on_service(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if name == self._name or self._closed:
            return
        previous = self._resolving.pop(name, None)
        if previous is not None:
            previous.cancel()  # a newer event supersedes it
        if state_change is ServiceStateChange.Removed:
            self._drop(name)
            return
        task = self._spawn(self._resolve(zeroconf, name))
        self._resolving[name] = task
        task.add_done_callback(lambda done: self._forget(name, done))

    def _forget(self, name: str, task: asyncio.Task) -> None:
        if self._resolving.get(name) is task:
            del self._resolving[name]

    async def _resolve(self, zeroconf: Zeroconf, name: str) -> None:
        delay = 1.0
        while True:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
                self._accept(name, info)
                return
            log.debug("discovery: %s did not answer; asking again in %.0f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESOLVE_RETRY_CAP)

    def _refresh_from_cache(self) -> None:
        if self._aiozc is None:
            return
        for name in list(self._by_name):
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            if info.load_from_cache(self._aiozc.zeroconf):
                self._accept(name, info)

    def _accept(self, name: str, info: AsyncServiceInfo) -> None:
        """Take what `info` announces, or drop the service if it is not a peer."""
        self._unconfirmed.discard(name)
        host = choose_host(info.parsed_addresses(IPVersion.V4Only), self._networks)
        try:
            if host is None or info.port is None:
                raise MalformedAnnouncement("no IPv4 address or no port")
            announcement = decode_txt(info.properties, host=host, port=info.port)
        except MalformedAnnouncement as exc:
            log.debug("discovery: ignoring %s: %s", name, exc)
            self._drop(name)
            return
        if announcement.store_id != self.store_id:
            self._drop(name)
            return
        if announcement.node_id == self.node_id:
            log.warning(
                "discovery: %s at %s announces this node's id %r; give it its own node name",
                name,
                host,
                self.node_id,
            )
            self._drop(name)
            return
        if self._by_name.get(name) != announcement:
            before = self.peers
            self._by_name.pop(name, None)
            self._by_name[name] = announcement  # last in: the latest for its node id
            self._notify_if_changed(before)

    def _drop(self, name: str) -> None:
        if name in self._by_name:
            before = self.peers
            del self._by_name[name]
            self._notify_if_changed(before)

    def _notify_if_changed(self, before: dict[str, PeerAnnouncement]) -> None:
        peers = self.peers
        if self._closed or peers == before:
            return
        try:
            self._on_change(dict(peers))
        except Exception:
            log.exception("discovery: the on_change callback failed")

    def _spawn(self, coroutine: Coroutine[None, None, None]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _cancel(tasks: Iterable[asyncio.Future]) -> None:
    """Cancel `tasks` and wait for every one to end; a cancellation of the caller arriving
    meanwhile goes on after. (Not one it is already handling: its `cancelling()` count
    stays up while a stopping node closes discovery in the task its TaskGroup cancelled.)"""
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass  # the task's own, or the caller's: told apart below
        except Exception:
            log.exception("discovery: a task failed while stopping")
    if current is not None and current.cancelling() > before:
        raise asyncio.CancelledError
