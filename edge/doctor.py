"""`posedge doctor`: checks of a node for a field tech, each with a verdict and what to do.

The checks (edge/doctor_checks.py, edge/doctor_devices.py, edge/doctor_network.py) read
and probe, and change nothing: no file in the state directory is created or written, and a
device the running daemon drives is not opened behind its back (its print jobs say how it
fares). The exit status is the worst verdict: 0 all ok, 1 warnings, 2 problems.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pwd
from dataclasses import asdict, dataclass
from pathlib import Path

VERDICTS = ("ok", "warning", "problem")
EXIT_CODES = {"ok": 0, "warning": 1, "problem": 2}
SERVICE_USER = "posedge"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: what was found and, unless all is well, what to do."""

    id: str
    verdict: str  # ok, warning or problem
    found: str
    todo: str | None = None


def ok(id_: str, found: str) -> Finding:
    return Finding(id_, "ok", found)


def warning(id_: str, found: str, todo: str) -> Finding:
    return Finding(id_, "warning", found, todo)


def problem(id_: str, found: str, todo: str) -> Finding:
    return Finding(id_, "problem", found, todo)


def worst(findings: list[Finding]) -> str:
    """The most serious verdict among `findings` ("ok" when there are none)."""
    return max((f.verdict for f in findings), key=VERDICTS.index, default="ok")


def exit_code(findings: list[Finding]) -> int:
    return EXIT_CODES[worst(findings)]


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """The user whose access the checks judge: the service's, by default."""

    name: str
    uid: int
    gids: frozenset[int]

    @classmethod
    def named(cls, name: str) -> ServiceUser:
        """Raises KeyError when there is no such user."""
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, frozenset(os.getgrouplist(name, entry.pw_gid)))


def default_user() -> str:
    """The service user when it exists (the package made it), else whoever runs doctor."""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return pwd.getpwuid(os.geteuid()).pw_name
    return SERVICE_USER


async def examine(config_path: Path, user: ServiceUser) -> list[Finding]:
    """Every check of the node configured by `config_path`, judged for `user`."""
    from . import doctor_checks, doctor_devices, doctor_network  # they import Finding from here

    config, finding = doctor_checks.check_config(config_path)
    if config is None:
        return [finding, problem("other-checks", "not run", "fix the configuration first")]
    running = doctor_checks.daemon_running(config.state_dir)
    findings = [finding, *doctor_checks.check_state_dir(config, user)]
    findings.append(doctor_checks.check_disk(config))
    findings += await doctor_devices.check_devices(config, user, daemon_running=running)
    findings += doctor_network.check_ports(config, daemon_running=running)
    mdns, announced = await doctor_network.check_mdns(config)
    findings.append(mdns)
    findings.append(doctor_network.check_peers(config, announced))
    findings.append(await doctor_network.check_hub(config))
    findings.append(doctor_checks.check_clock(config, dt.datetime.now(dt.UTC)))
    return findings


def render_text(findings: list[Finding], config_path: Path, user: str) -> str:
    lines = [f"posedge doctor: {config_path}, judged for user {user}", ""]
    width = max(len(f.id) for f in findings)
    for f in findings:
        label = f.verdict.upper() if f.verdict == "problem" else f.verdict
        lines.append(f"  {label:<8} {f.id:<{width}}  {f.found}")
        if f.todo:
            lines.append(f"  {'':<8} {'':<{width}}  -> {f.todo}")
    counts = {v: sum(f.verdict == v for f in findings) for v in VERDICTS}
    summary = (
        "all is well"
        if worst(findings) == "ok"
        else f"{counts['problem']} problem(s), {counts['warning']} warning(s)"
    )
    lines += ["", f"{len(findings)} checks: {summary}."]
    return "\n".join(lines)


def render_json(findings: list[Finding], config_path: Path, user: str) -> str:
    return json.dumps(
        {
            "config": str(config_path),
            "user": user,
            "verdict": worst(findings),
            "exit_code": exit_code(findings),
            "findings": [asdict(f) for f in findings],
        },
        indent=2,
    )


def run(config_path: Path, user_name: str | None, as_json: bool) -> int:
    """`posedge doctor`: print the findings; the exit status is the worst verdict."""
    name = user_name or default_user()
    try:
        user = ServiceUser.named(name)
    except KeyError:
        findings = [problem("user", f"no user {name!r} on this machine", "name one with --user")]
    else:
        findings = asyncio.run(examine(config_path, user))
    render = render_json if as_json else render_text
    print(render(findings, config_path, name))
    return exit_code(findings)
