"""Every error is problem+json of one shape, pointing at the field at fault."""

from __future__ import annotations

import logging

import pytest

from edge.orders.view import decode_entry
from tests.support.api_node import Terminal

PROBLEM_KEYS = {"type", "title", "status"}


@pytest.fixture
async def order_path(node):
    till = Terminal(node, await node.pair())
    order = (await till.post("/orders"))["order"]
    await till.post(f"/orders/{order['id']}/lines", {"sku": "SODA"})
    return till, f"/orders/{order['id']}"


async def raw(node, method: str, path: str, token: str | None, *, data=None, headers=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with node.session.request(method, node.url + path, data=data, headers=headers) as r:
        return r.status, r.content_type, await r.json(content_type=None), r.headers


def assert_problem(status: int, content_type: str, body: dict, want_status: int, slug: str):
    assert status == want_status, body
    assert content_type == "application/problem+json"
    assert PROBLEM_KEYS <= set(body) and body["status"] == want_status
    assert body["type"] == f"urn:posedge:problem:{slug}", body
    assert "Traceback" not in str(body)


@pytest.mark.parametrize(
    ("suffix", "body", "status", "slug", "pointer"),
    [
        ("/lines", {"sku": "SODA", "qty": "2"}, 422, "invalid-input", "/qty"),
        ("/lines", {"sku": "SODA", "qty": 2.0}, 422, "invalid-input", "/qty"),
        ("/lines", {"sku": "SODA", "qty": 1000}, 422, "invalid-input", "/qty"),
        ("/lines", {"sku": "SODA", "colour": "red"}, 422, "invalid-input", "/colour"),
        ("/lines", {"qty": 1}, 422, "invalid-input", "/sku"),
        ("/lines", {"sku": "PIZZA"}, 422, "unknown-item", "/sku"),
        (
            "/lines",
            {"sku": "FRIES", "modifiers": ["LARGE", "GOLD"]},
            422,
            "unknown-item",
            "/modifiers/1",
        ),
        ("/lines", {"sku": "FRIES", "modifiers": "LARGE"}, 422, "invalid-input", "/modifiers"),
        ("/lines", ["SODA"], 422, "invalid-input", ""),
        ("/payments", {"tender": "card", "amount": 10_000}, 422, "payment-rejected", "/amount"),
        ("/payments", {"tender": "cash", "amount": -5}, 422, "invalid-input", "/amount"),
        ("/payments", {"tender": "c a s h", "amount": 5}, 422, "invalid-input", "/tender"),
        (
            "/discounts",
            {"reason": "x", "amount": 1, "percent": "5"},
            422,
            "invalid-input",
            "/amount",
        ),
        ("/discounts", {"reason": "x", "percent": "150"}, 422, "invalid-input", "/percent"),
        (
            "/discounts",
            {"reason": "x", "amount": 5, "line_id": "nope"},
            404,
            "unknown-line",
            "/line_id",
        ),
        ("/tips", {"amount": 5, "payment_key": "nope"}, 422, "invalid-input", "/payment_key"),
        ("/close", None, 409, "balance-due", None),
        ("/void", {}, 422, "invalid-input", "/reason"),
        ("/reopen", {"reason": "x"}, 403, "manager-required", None),
        ("/bump", {"fire_id": "f", "station": "grill"}, 422, "invalid-input", "/fire_id"),
    ],
)
async def test_bad_bodies_get_a_problem_pointing_at_the_field(
    order_path, suffix, body, status, slug, pointer
):
    till, path = order_path
    got, problem, _ = await till.call("POST", path + suffix, body)
    assert got == status and problem["type"] == f"urn:posedge:problem:{slug}", problem
    assert problem.get("pointer") == pointer
    assert problem["detail"]


async def test_malformed_or_foreign_bodies_are_client_errors(node, order_path):
    till, path = order_path
    token = till.headers["Authorization"].split()[1]
    lines = f"/api/v1{path}/lines"
    json_type = {"Content-Type": "application/json"}
    for data, headers, status, slug in [
        (b'{"sku": ', json_type, 400, "malformed-json"),
        (b'{"sku": "SODA", "qty": NaN}', json_type, 400, "malformed-json"),
        (b"\xff\xfe", json_type, 400, "malformed-json"),
        (b'{"sku": "SODA", "note": "\\ud800"}', json_type, 400, "malformed-json"),
        (
            b"sku=SODA",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported-media-type",
        ),
        (b'{"sku": "' + b"x" * 70_000 + b'"}', json_type, 413, "body-too-large"),
    ]:
        result = await raw(node, "POST", lines, token, data=data, headers=headers)
        assert_problem(*result[:3], status, slug)
    for method, url, status, slug in [
        ("GET", "/api/v1/nothing-here", 404, "not-found"),
        ("DELETE", "/api/v1/orders", 405, "method-not-allowed"),
        ("GET", "/api/v1/orders/20261120-000000000000", 404, "unknown-order"),
        ("GET", "/api/v1/orders/not-an-id", 404, "unknown-order"),
        ("POST", f"/api/v1{path}/lines/nope/void", 404, "unknown-line"),
    ]:
        result = await raw(node, method, url, token, data=b'{"reason": "r"}', headers=json_type)
        assert_problem(*result[:3], status, slug)
    status, _, _, headers = await raw(node, "DELETE", "/api/v1/orders", token)
    assert "POST" in headers["Allow"]


async def test_a_deeply_nested_body_is_a_client_error_logged_in_one_line(node, order_path, caplog):
    """~1,000 nested arrays make json.loads raise RecursionError, not ValueError."""
    till, path = order_path
    token = till.headers["Authorization"].split()[1]
    nested = b"[" * 1000 + b"]" * 1000
    json_type = {"Content-Type": "application/json"}
    with caplog.at_level(logging.DEBUG):
        for url, who in [("/api/v1/pair", None), (f"/api/v1{path}/lines", token)]:
            result = await raw(node, "POST", url, who, data=nested, headers=json_type)
            assert_problem(*result[:3], 400, "malformed-json")
            assert "too deeply" in result[2]["detail"]
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert (await till.get(path))["order"]["id"]  # the node goes on serving


def test_a_deeply_nested_entry_from_a_peer_is_malformed_not_a_crash():
    with pytest.raises(ValueError, match="too deeply"):
        decode_entry("[" * 1000 + "]" * 1000)


async def test_a_bad_idempotency_key_is_refused(order_path):
    till, path = order_path
    status, problem, _ = await till.call("POST", path + "/fire", key="has space")
    assert status == 400 and problem["type"].endswith(":invalid-idempotency-key")
