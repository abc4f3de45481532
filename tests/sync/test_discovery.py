"""Peer discovery: the TXT codec and the choice of interfaces (pure), then real nodes in
network namespaces on one bridge, and avahi seeing what they announce.

Each node runs in its own process inside its namespace (`python -m
tests.support.discovery_node ...`) and prints the peers it sees as JSON lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from zeroconf import DNSPointer, IPVersion, ServiceInfo, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

from sync.discovery import (
    SERVICE_TYPE,
    Discovery,
    Interface,
    MalformedAnnouncement,
    PeerAnnouncement,
    choose_host,
    choose_interfaces,
    decode_txt,
    encode_txt,
    instance_name,
    server_name,
    skipped,
)
from tests.support import netns
from tests.support.waiting import until

FP = {name: f"{index:02x}" * 32 for index, name in enumerate(("n1", "n2", "n3", "x1"), 1)}
PORT = {"n1": 8441, "n2": 8442, "n3": 8443, "x1": 8449}
WAIT = 60.0  # the most any wait below lasts before the test fails (a bound, not a timing)
POLL = 0.2  # how often the nodes under test read their addresses again


def announcement(**changes) -> PeerAnnouncement:
    fields = dict(
        store_id="s1", node_id="n1", protocol=1, fingerprint=FP["n1"], host="10.0.0.1", port=1
    )
    return PeerAnnouncement(**(fields | changes))


# -- pure


@pytest.mark.parametrize(
    "sent",
    [
        announcement(),
        announcement(store_id="store_7-b", node_id="till.2", protocol=12, port=65535),
        announcement(node_id="n" * 64, fingerprint="AB" * 32),
    ],
)
def test_txt_round_trips_through_the_wire_format(sent):
    wire = ServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", properties=encode_txt(sent)).text
    received = ServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", properties=wire).properties
    decoded = decode_txt(received, host=sent.host, port=sent.port)
    assert decoded == PeerAnnouncement(**(asdict(sent) | {"fingerprint": sent.fingerprint.lower()}))
    assert set(received) == {b"store", b"node", b"proto", b"fp"}  # public data only


def test_txt_ignores_keys_it_does_not_know():
    txt = encode_txt(announcement()) | {b"future": b"1", b"flag": None}
    assert decode_txt(txt, host="10.0.0.1", port=1) == announcement()


@pytest.mark.parametrize(
    "change",
    [
        {b"store": None},
        {b"node": b""},
        {b"node": "caf\u00e9".encode()},
        {b"node": b"a b"},
        {b"node": b"n" * 65},
        {b"proto": b"-1"},
        {b"proto": b"one"},
        {b"proto": b"1" * 10},
        {b"fp": b"ab" * 31},
        {b"fp": b"zz" * 32},
        {b"fp": b"\xff" * 64},
    ],
)
def test_malformed_txt_is_refused_naming_the_field(change):
    txt = encode_txt(announcement()) | change
    with pytest.raises(MalformedAnnouncement, match=next(iter(change)).decode()):
        decode_txt(txt, host="10.0.0.1", port=1)


@pytest.mark.parametrize("missing", [b"store", b"node", b"proto", b"fp"])
def test_txt_without_a_field_is_refused(missing):
    txt = encode_txt(announcement())
    del txt[missing]
    with pytest.raises(MalformedAnnouncement, match=missing.decode()):
        decode_txt(txt, host="10.0.0.1", port=1)


def test_an_announcement_that_would_not_decode_is_not_sent():
    with pytest.raises(ValueError, match="fingerprint"):
        encode_txt(announcement(fingerprint="not hex"))
    with pytest.raises(ValueError, match="store id"):
        encode_txt(announcement(store_id="a b"))


def test_default_interfaces_leave_out_loopback_docker_and_vpns():
    interfaces = [
        Interface("lo", "127.0.0.1", 8),
        Interface("eth0", "192.168.1.20", 24),
        Interface("wlan0", "192.168.2.20", 24),
        Interface("enp3s0", "169.254.7.1", 16),
        Interface("docker0", "172.17.0.1", 16),
        Interface("br-0123456789ab", "172.18.0.1", 16),
        Interface("veth1a2b3c", "172.17.0.5", 16, master="docker0"),
        Interface("tun0", "10.8.0.2", 24),
        Interface("tap1", "10.9.0.2", 24),
        Interface("wg0", "10.10.0.2", 24),
        Interface("tailscale0", "100.64.0.2", 10),
        Interface("ztabcdef", "10.147.17.2", 24),
        Interface("br0", "192.168.3.20", 24),
    ]
    chosen = choose_interfaces(interfaces, None)
    assert [i.name for i in chosen] == ["eth0", "wlan0", "enp3s0", "br0"]
    assert all(skipped(i) for i in interfaces if i not in chosen)


def test_configured_interfaces_are_taken_by_name_or_address_when_present():
    interfaces = [
        Interface("eth0", "192.168.1.20", 24),
        Interface("eth0", "192.168.1.21", 24),
        Interface("docker0", "172.17.0.1", 16),
        Interface("eth1", "10.0.0.5", 8),
    ]
    chosen = choose_interfaces(interfaces, ["docker0", "10.0.0.5", "eth0", "wlan9", "1.2.3.4"])
    assert [i.address for i in chosen] == ["172.17.0.1", "10.0.0.5", "192.168.1.20", "192.168.1.21"]
    assert choose_interfaces(interfaces, []) == []


def test_a_peer_is_reached_at_its_newest_address_on_a_network_of_ours():
    lan = [ipaddress.IPv4Network("10.77.0.0/24")]
    assert choose_host(["172.17.0.1", "10.77.0.9", "10.77.0.2"], lan) == "10.77.0.9"
    assert choose_host(["172.17.0.1", "192.168.0.4"], lan) == "172.17.0.1"
    assert choose_host(["fe80::1", "bogus"], lan) is None


@pytest.mark.parametrize(
    "store_id, node_id",
    [("s1", "n1"), ("store_7", "till.2"), ("s" * 64, "n" * 64), ("a-b", "c"), ("a", "b-c")],
)
def test_service_and_host_names_are_valid_labels(store_id, node_id):
    instance = instance_name(store_id, node_id).removesuffix("." + SERVICE_TYPE)
    host = server_name(store_id, node_id).removesuffix(".posedge.local.")
    assert "." not in instance and len(instance.encode()) <= 63
    assert all(1 <= len(label) <= 63 for label in host.split("."))
    assert len(host.split(".")) == 2


def test_names_of_different_nodes_differ():
    pairs = [("a-b", "c"), ("a", "b-c"), ("s", "n.1"), ("s", "n_1"), ("s" * 64, "n" * 63 + "x")]
    pairs.append(("s" * 64, "n" * 63 + "y"))
    assert len({instance_name(*pair) for pair in pairs}) == len(pairs)
    assert len({server_name(*pair) for pair in pairs}) == len(pairs)


async def test_discovery_without_an_address_waits_and_closes_cleanly():
    """No interface to announce on (nothing is sent to this machine's LAN): start waits
    for one, close stops everything and is safe twice; no thread is left (conftest)."""
    seen = []
    discovery = Discovery(
        store_id="s1",
        node_id="n1",
        port=8441,
        fingerprint=FP["n1"],
        interfaces=["192.0.2.254"],  # TEST-NET-1: no interface of this machine has it
        on_change=seen.append,
        address_poll_interval=0.01,
    )
    await discovery.start()
    for _ in range(3):
        await asyncio.sleep(0.02)
    assert discovery.peers == {}
    await discovery.close()
    await discovery.close()
    assert seen == []
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert tasks == []


def test_discovery_refuses_ids_it_could_not_announce():
    with pytest.raises(ValueError, match="node id"):
        Discovery(
            store_id="s1",
            node_id="has space",
            port=1,
            fingerprint=FP["n1"],
            interfaces=None,
            on_change=print,
        )


# -- nodes in network namespaces

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))


class Node:
    """A node process in a namespace, and the peers it last printed."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.peers: dict[str, dict] = {}
        self.lines: list[dict] = []

    @classmethod
    async def spawn(cls, namespace: netns.Namespace, store: str, node: str, *extra: str):
        process = await namespace.spawn(
            *namespace.python("-m", "tests.support.discovery_node", store, node),
            str(PORT[node]),
            FP[node],
            "--poll",
            str(POLL),
            *extra,
        )
        self = cls(node, process)
        await self.until(lambda line: "started" in line, "start")
        return self

    async def until(self, done, what: str) -> dict:
        """Read lines until `done(line)`; fail after WAIT seconds or at the end of output."""
        deadline = time.monotonic() + WAIT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                break
            if not raw:
                pytest.fail(f"{self.name} exited before {what}; it printed {self.lines}")
            line = json.loads(raw)
            self.lines.append(line)
            if "peers" in line:
                self.peers = line["peers"]
            if done(line):
                return line
        pytest.fail(f"{self.name}: no {what} within {WAIT} s; it printed {self.lines}")

    async def sees(self, expected: dict[str, str], what: str) -> None:
        """Wait until its peers are exactly `expected` (node id -> host)."""

        def matches() -> bool:
            return {node: peer["host"] for node, peer in self.peers.items()} == expected

        if not matches():
            await self.until(lambda line: "peers" in line and matches(), what)

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        await self.until(lambda line: "closed" in line, "clean stop")
        assert await asyncio.wait_for(self.process.wait(), WAIT) == 0


def expect(*pairs: tuple[str, netns.Namespace]) -> dict[str, str]:
    """node id -> the address of the namespace it runs in."""
    return {node: namespace.address for node, namespace in pairs}


# -- a node stopping (on loopback: no namespace needed)


async def test_a_node_stopped_as_the_daemon_is_says_goodbye():
    """A node process stopped with SIGTERM as the daemon stops (the task that holds its
    discovery is cancelled) sends goodbye packets: a listener on loopback sees its service
    removed within WAIT seconds, not when the records it cached expire (75 minutes)."""
    store = f"goodbye-{secrets.token_hex(4)}"  # no other test's node takes it for a peer
    service = instance_name(store, "n1")
    heard: list[tuple[str, ServiceStateChange]] = []

    def on_service(zeroconf, service_type: str, name: str, state_change: ServiceStateChange):
        heard.append((name, state_change))

    listener = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    browser = AsyncServiceBrowser(listener.zeroconf, SERVICE_TYPE, handlers=[on_service])
    argv = ["-m", "tests.support.discovery_node", store, "n1", str(PORT["n1"]), FP["n1"]]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *argv, "--interfaces", "127.0.0.1", cwd=netns.ROOT, stdout=subprocess.PIPE
    )
    node = Node("n1", process)
    try:
        await node.until(lambda line: "started" in line, "start")
        await until(lambda: (service, ServiceStateChange.Added) in heard, WAIT)
        cached = listener.zeroconf.cache.entries_with_name(SERVICE_TYPE)
        ttls = [r.ttl for r in cached if isinstance(r, DNSPointer) and r.alias == service]
        assert ttls and min(ttls) > 60 * WAIT  # only a goodbye removes it within WAIT
        await node.stop()
        await until(lambda: (service, ServiceStateChange.Removed) in heard, WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await browser.async_cancel()
        await listener.async_close()


@needs_namespaces
async def test_nodes_of_a_store_find_each_other_and_see_one_leave():
    async with netns.Network(5) as (ns1, ns2, ns3, other, spare):
        # Another store's node, and a node of this store announcing a malformed TXT, there
        # before the store's nodes start.
        x1 = await Node.spawn(other, "s2", "x1", "--also-malformed", "s1")
        n1 = await Node.spawn(ns1, "s1", "n1")
        n2 = await Node.spawn(ns2, "s1", "n2")
        n3 = await Node.spawn(ns3, "s1", "n3")
        started = next(line for line in n1.lines if "started" in line)
        assert started["threads"] == ["MainThread"]  # zeroconf runs on the node's loop

        await n1.sees(expect(("n2", ns2), ("n3", ns3)), "n2 and n3")
        await n2.sees(expect(("n1", ns1), ("n3", ns3)), "n1 and n3")
        await n3.sees(expect(("n1", ns1), ("n2", ns2)), "n1 and n2")
        for node in (n1, n2, n3):
            for name, peer in node.peers.items():
                assert (peer["node_id"], peer["store_id"], peer["protocol"]) == (name, "s1", 1)
                assert (peer["port"], peer["fingerprint"]) == (PORT[name], FP[name])
        await x1.sees({}, "nobody of store s2")
        for node in (n1, n2, n3):  # never a peer, not even for a moment
            assert all(set(line.get("peers", ())) <= {"n1", "n2", "n3"} for line in node.lines)

        # A second node calling itself n2 is refused before it announces anything. (In a
        # namespace of its own: of several mDNS sockets on one address, only one gets the
        # unicast answers to a probe.)
        duplicate = await spare.spawn(
            *spare.python("-m", "tests.support.discovery_node", "s1", "n2", "9999", FP["x1"])
        )
        out, _ = await asyncio.wait_for(duplicate.communicate(), WAIT)
        assert duplicate.returncode == 3
        refused = json.loads(out.splitlines()[-1])["refused"]
        assert "already announces node 'n2' of store 's1'" in refused

        await n3.stop()
        await n1.sees(expect(("n2", ns2)), "n3 leave")
        await n2.sees(expect(("n1", ns1)), "n3 leave")
        assert all(  # the refused duplicate (port 9999) was never taken for n2
            peer["port"] == PORT["n2"]
            for line in n1.lines
            for peer in line.get("peers", {}).values()
            if peer["node_id"] == "n2"
        )
        await x1.stop()


@needs_namespaces
async def test_nodes_follow_a_peer_whose_address_changes():
    async with netns.Network(3) as (ns1, ns2, ns3):
        n1 = await Node.spawn(ns1, "s1", "n1")
        n2 = await Node.spawn(ns2, "s1", "n2")
        n3 = await Node.spawn(ns3, "s1", "n3")
        await n1.sees(expect(("n2", ns2), ("n3", ns3)), "n2 and n3")
        await n2.sees(expect(("n1", ns1), ("n3", ns3)), "n1 and n3")

        ns2.set_address("10.77.0.102")  # n2 notices on its next poll and announces anew
        await n1.sees(expect(("n2", ns2), ("n3", ns3)), "n2 at 10.77.0.102")
        await n3.sees(expect(("n1", ns1), ("n2", ns2)), "n2 at 10.77.0.102")
        await n2.sees(expect(("n1", ns1), ("n3", ns3)), "n1 and n3 from its new address")
        for node in (n1, n2, n3):
            await node.stop()


# -- avahi


def _avahi_reason() -> str | None:
    missing = [tool for tool in ("avahi-daemon", "avahi-browse", "dbus-daemon")]
    missing = [tool for tool in missing if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (./dev installs them)"
    return netns.available()


DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""

AVAHI_CONF = """[server]
host-name=posedge-avahi-{run}
use-ipv4=yes
use-ipv6=no
allow-interfaces={interface}
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=no
publish-hinfo=no
publish-workstation=no
publish-domain=no
"""


@contextlib.contextmanager
def avahi_in(namespace: netns.Namespace, run: str, directory: Path):
    """A private system bus and avahi-daemon in `namespace`; yields the environment that
    points avahi's tools at that bus. Both are stopped on the way out."""
    socket = directory / "system_bus_socket"
    (directory / "dbus.conf").write_text(DBUS_CONF.format(socket=socket))
    (directory / "avahi.conf").write_text(AVAHI_CONF.format(run=run, interface=namespace.interface))
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={socket}")
    bus = namespace.popen(
        "dbus-daemon",
        f"--config-file={directory / 'dbus.conf'}",
        "--nofork",
        "--nopidfile",
        "--print-address",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    daemon = None
    log = open(directory / "avahi.log", "w")  # closed on the way out
    try:
        assert bus.stdout.readline().startswith(f"unix:path={socket}")
        # `ip netns exec` gives the command its own mount namespace: a tmpfs on /run there
        # keeps avahi's pid file and socket apart from any other avahi on this machine.
        daemon = namespace.popen(
            "sh",
            "-c",
            'mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot -f "$0"',
            str(directory / "avahi.conf"),
            env=env,
            stderr=log,
        )
        yield env
    finally:
        for process in (daemon, bus):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
                if process.stdout:
                    process.stdout.close()
        log.close()


@pytest.mark.skipif(_avahi_reason() is not None, reason=str(_avahi_reason()))
async def test_avahi_sees_a_node_with_its_txt(tmp_path):
    async with netns.Network(2) as (ns1, ns2):
        with avahi_in(ns1, ns1.name, tmp_path) as env:
            n2 = await Node.spawn(ns2, "s1", "n2")
            found = []
            deadline = time.monotonic() + WAIT
            for _ in range(100):
                if time.monotonic() > deadline:
                    break
                browse = ns1.run("avahi-browse", "-rpt", SERVICE_TYPE[:-7], env=env, check=False)
                found = [line for line in browse.stdout.splitlines() if line.startswith("=")]
                if found:
                    break
                await asyncio.sleep(0.2)
            log = (tmp_path / "avahi.log").read_text()
            assert found, f"avahi-browse found nothing: {browse.stderr}\navahi: {log}"
            # =;interface;protocol;name;type;domain;host;address;port;txt
            fields = found[0].split(";")
            assert fields[2:9] == [
                "IPv4",
                "s1\\032n2",  # avahi escapes the space in the instance name
                "_posedge._tcp",
                "local",
                "n2.s1.posedge.local",
                ns2.address,
                str(PORT["n2"]),
            ]
            txt = set(fields[9].split(" "))
            assert txt == {'"store=s1"', '"node=n2"', '"proto=1"', f'"fp={FP["n2"]}"'}
            await n2.stop()
