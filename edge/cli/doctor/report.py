"""`posedge doctor`: checks of a node for a field tech, each with a verdict and what to do.

The checks (edge/cli/doctor/system.py, edge/cli/doctor/devices.py, edge/cli/doctor/network.py) read
and probe, and change nothing: no file in the state directory is created or written, and a
device the running daemon drives is not opened behind its back (its print jobs say how it
fares). The exit status is the worst verdict: 0 all ok, 1 warnings, 2 problems.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path

from edge.cli.doctor import devices, network, system
from edge.cli.doctor.findings import (
    VERDICTS,
    Finding,
    ServiceUser,
    default_user,
    exit_code,
    problem,
    worst,
)


async def examine(config_path: Path, user: ServiceUser) -> list[Finding]:
    """Every check of the node configured by `config_path`, judged for `user`."""
    config, finding = system.check_config(config_path)
    if config is None:
        return [finding, problem("other-checks", "not run", "fix the configuration first")]
    running = system.daemon_running(config.state_dir)
    findings = [finding, *system.check_state_dir(config, user)]
    findings.append(system.check_disk(config))
    findings += await devices.check_devices(config, user, daemon_running=running)
    findings += network.check_ports(config, daemon_running=running)
    findings.append(network.check_https(config))
    mdns, announced = await network.check_mdns(config)
    findings.append(mdns)
    findings.append(network.check_peers(config, announced))
    findings.append(await network.check_hub(config))
    findings.append(system.check_clock(config, dt.datetime.now(dt.UTC)))
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
