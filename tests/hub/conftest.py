"""The hub of the tests/hub/ tests: one per test, killed on the way out."""

import signal

import pytest

from tests.support.hub import HubProcess


@pytest.fixture
async def hub(tmp_path):
    hub = HubProcess(tmp_path / "hub")
    try:
        yield hub
    finally:
        await hub.stop(signal.SIGKILL)
