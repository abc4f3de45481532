"""Node.js for the tests that run a JavaScript Yjs terminal (tests/support/js/terminal_client.mjs).

`js_client()` finds `node` and `npm` and installs the versions tests/support/js/package.json pins
into tests/support/js/node_modules, once: again only when a package is missing or package.json pins
another version. Without node or npm the caller's tests are skipped, except under CI=true,
where they fail (CI must run them: `./dev` installs Debian's nodejs).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import IN_CI

JS_DIR = Path(__file__).parent / "js"
CLIENT = JS_DIR / "terminal_client.mjs"
MIN_NODE = 18
INSTALL_TIMEOUT = 300  # seconds: a first install fetches from the npm registry


@dataclass(frozen=True, slots=True)
class JsClient:
    """How to run the JavaScript terminal: `node` and the script (run it from JS_DIR)."""

    node: str
    script: Path


def js_client() -> JsClient:
    """Node and the installed client, or a skip (a failure under CI) saying what is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        _unavailable(f"{missing} not found on PATH (Debian: apt-get install nodejs npm)")
    version = _run([node, "--version"], timeout=30).stdout.strip()  # "v20.20.2"
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        _unavailable(f"node {version} is too old: the JavaScript client needs {MIN_NODE} or later")
    with (JS_DIR / "package.json").open() as lock:  # one installer at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stale := _stale_packages():
            _install(npm, stale)
    return JsClient(node, CLIENT)


def _stale_packages() -> list[str]:
    """The pinned packages that node_modules lacks or holds at another version."""
    pins = json.loads((JS_DIR / "package.json").read_text("utf-8"))["dependencies"]
    stale = []
    for name, pin in pins.items():
        installed = JS_DIR / "node_modules" / name / "package.json"
        try:
            version = json.loads(installed.read_text("utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            version = None
        if version is None or (pin[0].isdigit() and version != pin):
            stale.append(f"{name} {version or 'missing'} (pinned {pin})")
    return stale


def _install(npm: str, stale: list[str]) -> None:
    if (JS_DIR / "package-lock.json").exists():
        command = [npm, "ci"]
    else:  # the pins in package.json are exact; no lockfile is kept in the repository
        command = [npm, "install", "--no-package-lock"]
    command += ["--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = _run(command, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} in {JS_DIR} took over {INSTALL_TIMEOUT} s", pytrace=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-3000:]
        pytest.fail(
            f"{' '.join(command)} in {JS_DIR} failed (exit {done.returncode}) while installing "
            f"{', '.join(stale)}; is the npm registry reachable?\n{output}",
            pytrace=False,
        )
    if still := _stale_packages():
        pytest.fail(f"npm finished but node_modules still lacks {', '.join(still)}", pytrace=False)


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "npm_config_update_notifier": "false"}
    return subprocess.run(
        command, cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def _unavailable(reason: str) -> None:
    reason = f"JavaScript Yjs client tests: {reason}"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: these tests must run)", pytrace=False)
    pytest.skip(reason)
