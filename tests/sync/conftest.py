"""Fixtures of the sync tests."""

from pathlib import Path

import pytest

from sync.membership.trust import StoreCredentials, create_store


@pytest.fixture
def db(tmp_path) -> Path:
    """Where a test's document store lives."""
    return tmp_path / "orders.db"


@pytest.fixture(scope="module")
def store_a() -> StoreCredentials:
    """A store's credentials, made once per test module: store-a, as its node-1."""
    return create_store("store-a", "node-1")


@pytest.fixture(scope="module")
def store_b() -> StoreCredentials:
    """Another store's credentials, made once per test module: store-b, as its node-1."""
    return create_store("store-b", "node-1")
