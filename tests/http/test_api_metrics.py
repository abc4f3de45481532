"""`/metrics` in Prometheus text: requests, latency, store commits, open orders."""

from __future__ import annotations

import re

from tests.support.api_node import Terminal


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition `text`."""
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    raise AssertionError(f"no sample {name} {labels}")


async def test_metrics_count_requests_time_them_and_show_open_orders(node):
    till = Terminal(node, await node.pair())
    orders = [(await till.post("/orders"))["order"]["id"] for _ in range(3)]
    await till.post(f"/orders/{orders[0]}/close", expect=200)
    await till.call("POST", f"/orders/{orders[1]}/lines", {"sku": "NOPE"})
    async with node.session.get(f"{node.url}/metrics", headers=till.headers) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    route = "/api/v1/orders"
    assert (
        sample(text, "posedge_http_requests_total", route=route, method="POST", status="201") == 3
    )
    assert (
        sample(text, "posedge_http_requests_total", route=route + "/{order_id}/lines", status="422")
        == 1
    )
    assert (
        sample(text, "posedge_http_request_duration_seconds_count", route=route, method="POST") == 3
    )
    assert (
        sample(
            text,
            "posedge_http_request_duration_seconds_bucket",
            route=route,
            method="POST",
            le="+Inf",
        )
        == 3
    )
    assert sample(text, "posedge_store_commit_duration_seconds_count") >= 1
    assert sample(text, "posedge_store_updates_committed_total") >= 4
    assert sample(text, "posedge_open_orders") == 2
    assert "_created" not in text
