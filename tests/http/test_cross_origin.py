"""Pages of another origin (a kitchen screen loaded from another node of the store) may call
the API with their token: preflights are answered, answers and problems carry the CORS
header; the manager UI, which signs in with cookies, stays same-origin."""

from __future__ import annotations

from tests.support.api_node import Terminal

OTHER_NODE = "https://10.0.0.7:8420"  # where the page was loaded from


async def test_a_preflight_of_an_api_route_is_answered_without_a_token(node):
    headers = {
        "Origin": OTHER_NODE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    path = "/api/v1/orders/20261120-000000000000/bump"
    async with node.session.options(node.url + path, headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert {"authorization", "content-type", "idempotency-key"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "Access-Control-Allow-Credentials" not in response.headers


async def test_answers_and_problems_of_the_api_may_be_read_by_another_origin(node):
    till = Terminal(node, await node.pair())
    headers = {**till.headers, "Origin": OTHER_NODE}
    async with node.session.get(f"{node.url}/api/v1/terminals/me", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    async with node.session.get(
        f"{node.url}/api/v1/orders/20261120-000000000000", headers=headers
    ) as response:
        assert response.status == 404  # a problem a page of another origin can read
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    async with node.session.get(
        f"{node.url}/api/v1/terminals/me", headers={"Origin": OTHER_NODE}
    ) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_the_manager_ui_and_same_origin_calls_get_no_cors_headers(node):
    async with node.session.get(
        f"{node.url}/ui/signin", headers={"Origin": OTHER_NODE}
    ) as response:
        assert response.status == 200
        assert "Access-Control-Allow-Origin" not in response.headers
    preflight = {"Origin": OTHER_NODE, "Access-Control-Request-Method": "POST"}
    async with node.session.options(f"{node.url}/ui/signin", headers=preflight) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
    till = Terminal(node, await node.pair())
    async with node.session.get(f"{node.url}/api/v1/terminals/me", headers=till.headers) as r:
        assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
