"""Fixtures of the sync tests."""

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path) -> Path:
    """Where a test's document store lives."""
    return tmp_path / "orders.db"
