"""What needs a manager's attention on this node, in words a manager understands. Pure logic.

Works on what the API shows (`Devices.describe()`, the queue's waiting counts, peers' and
the upstream link's `to_dict`/`status()`), so the dashboard says what the API says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from edge.http.ui.formats import local_time

UPSTREAM_LATE = 15 * 60  # seconds an order may wait for the hub before a manager is told

# a printer's short problem words (drivers/escpos/status.py, edge/printing/worker.py) →
# (a sentence after its name, its state in a word or two, how urgent)
_PRINTER_WORDS = {
    "paper out": ("is out of paper", "Out of paper", "bad"),
    "paper low": ("is running low on paper", "Paper low", "warn"),
    "cover open": ("has its cover open", "Cover open", "bad"),
    "offline": ("is offline: check its power and cable", "Offline", "bad"),
    "not answering": ("is not answering", "Not answering", "bad"),
    "error": ("reports an error: switch it off and on", "Error", "bad"),
    "answers nonsense": ("answers in a way posedge does not understand", "Not understood", "bad"),
}
_STATE_WORDS = {"ready": "Ready", "unknown": "Checking…", "offline": "Offline"}
DEVICE_KINDS = {  # what each kind of device is called, in words
    "printer": "Printer",
    "drawer": "Cash drawer",
    "display": "Customer display",
    "bump_bar": "Bump bar",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell: `bad` needs doing something now, `warn` soon."""

    text: str
    level: Literal["bad", "warn"]


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device as the dashboard lists it."""

    name: str
    kind: str
    state: str  # in words
    level: Literal["ok", "warn", "bad"]
    waiting: int  # print jobs not yet printed (printers)


def printer_notices(device: dict, waiting: int, zone: ZoneInfo) -> list[Notice]:
    """What is wrong with one printer of `Devices.describe()`, with what waits for it
    (times in `zone`)."""
    name = device["name"]
    found = []
    for problem in device.get("problems") or ():
        words, _, level = _words(problem)
        found.append(Notice(f"{name} {words}", level))
    if device.get("failed_over"):
        found.append(Notice(f"{name}'s tickets are printing on its backup printer", "warn"))
    driver, preferred = device.get("driven_by"), device.get("preferred_by")
    if preferred and driver != preferred:
        found.append(Notice(_elsewhere(name, driver, preferred, device.get("moved"), zone), "warn"))
    if waiting and any(n.level == "bad" for n in found):
        jobs = "1 print job is" if waiting == 1 else f"{waiting} print jobs are"
        found.append(Notice(f"{jobs} waiting for {name}", "bad"))
    return found


def _elsewhere(name: str, driver: str | None, preferred: str, moved: dict | None, zone) -> str:
    """A store printer driven by a node other than the one that prefers it, in words."""
    if not driver:
        return f"{name}: no node drives it while node {preferred} is away"
    told = f"{name}: node {driver} prints its tickets"
    if moved is not None:
        since = local_time(moved["at"], zone)[:5]
        told += f" since {since}, taking over from node {moved['from']} ({moved['why']})"
    return told + f"; it goes back to node {preferred} once that node is back"


def _words(problem: str) -> tuple[str, str, str]:
    return _PRINTER_WORDS.get(problem, (f"has a problem: {problem}", problem.capitalize(), "bad"))


def device_rows(devices: list[dict], waiting: dict[str, int]) -> list[DeviceRow]:
    """Every device, with its state in a word or two."""
    rows = []
    for device in devices:
        kind = DEVICE_KINDS.get(device["kind"], device["kind"])
        if device["kind"] != "printer":
            rows.append(DeviceRow(device["name"], kind, "Configured", "ok", 0))
            continue
        problems = [_words(problem) for problem in device.get("problems") or ()]
        states = [state for _, state, _ in problems]
        levels = {level for _, _, level in problems}
        if device.get("failed_over"):
            states.append("printing on its backup")
            levels.add("warn")
        if states:
            state = ", ".join(states)
            level = "bad" if "bad" in levels else "warn"
        elif device["state"] == "elsewhere":
            state, level = f"Driven by node {device.get('driven_by') or '?'}", "ok"
        else:
            state = _STATE_WORDS.get(device["state"], device["state"].capitalize())
            level = "ok" if device["state"] == "ready" else "warn"
        rows.append(DeviceRow(device["name"], kind, state, level, waiting.get(device["id"], 0)))
    return rows


def node_notices(
    devices: list[dict],
    waiting: dict[str, int],
    peers: list[dict],
    upstream: dict | None,
    zone: ZoneInfo,
) -> list[Notice]:
    """Everything that needs attention, the urgent first (times in `zone`)."""
    found = []
    for device in devices:
        if device["kind"] == "printer":
            found += printer_notices(device, waiting.get(device["id"], 0), zone)
    for peer in peers:
        if not peer.get("connected"):
            found.append(
                Notice(
                    f"Node {peer['node']} is not connected: orders taken there reach this "
                    "node when it is back",
                    "warn",
                )
            )
    if upstream is not None:
        found += _upstream_notices(upstream)
    return sorted(found, key=lambda n: n.level != "bad")


def _upstream_notices(upstream: dict) -> list[Notice]:
    backlog = upstream.get("backlog") or {}
    orders, age = backlog.get("orders") or 0, backlog.get("oldest_age")
    if not orders or age is None or age < UPSTREAM_LATE:
        return []
    return [
        Notice(
            f"The hub has not received {orders} order(s) for {int(age // 60)} minutes "
            f"(link {upstream.get('state', 'unknown')}); they are safe here and go up when the "
            "internet is back",
            "warn",
        )
    ]
