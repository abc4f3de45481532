"""The OpenAPI document: it lists exactly the routes the app serves, it is valid OpenAPI 3.1,
and the real server, fuzzed from it by schemathesis, answers as it says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from edge.http import problems
from edge.http.api.openapi.document import openapi_document
from edge.http.api.openapi.operations import PROBLEMS
from edge.http.api.openapi.schemas import ORDER_ID_PATTERN
from edge.orders.ids import _ORDER_ID
from tests.support.paths import ROOT

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
EXAMPLES = 50  # per operation, half of them on the orders, lines and tickets seeded first
NOT_FUZZED = {("GET", "/api/v1/events")}  # a WebSocket, which schemathesis cannot drive


async def served_document(node, token: str) -> dict:
    auth = {"Authorization": f"Bearer {token}"}
    async with node.session.get(f"{node.url}/api/v1/openapi.json", headers=auth) as response:
        assert response.status == 200
        return await response.json()


def documented_routes(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def is_manager_ui(path: str) -> bool:
    """The manager UI's pages (docs/ui.md): HTML for people, not part of the API."""
    return path in ("/", "/ui") or path.startswith("/ui/")


async def test_openapi_document_lists_exactly_the_routes_the_app_serves(node):
    document = await served_document(node, await node.pair())

    served = {
        (route.method, route.resource.canonical)
        for route in node.server.app.router.routes()
        if route.method != "HEAD"  # aiohttp answers HEAD for GET by itself
        and not is_manager_ui(route.resource.canonical)
    }
    assert documented_routes(document) == served
    assert document == openapi_document()


def test_openapi_document_is_valid_openapi_3_1():
    document = openapi_document()
    validate_openapi(document)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    operation_ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_openapi_patterns_and_problem_types_are_the_servers():
    for order_id in ("20261120-0a1b2c3d4e5f", "20261120-0A1B2C3D4E5F", "2026112-0a1b2c3d4e5f"):
        assert bool(re.search(ORDER_ID_PATTERN, order_id)) == bool(_ORDER_ID.fullmatch(order_id))
    for _kind, status, slug, _title in problems._DOMAIN:
        assert PROBLEMS[slug][0] == status, slug
    for status, (slug, _title) in problems._HTTP.items():
        assert PROBLEMS[slug][0] == status, slug


def test_docs_api_md_lists_every_route_and_problem_type():
    docs = (ROOT / "docs" / "api.md").read_text()
    for method, path in documented_routes(openapi_document()):
        assert f"{method} {path}" in docs, (method, path)
    for slug, (status, when) in PROBLEMS.items():
        assert f"| `urn:posedge:problem:{slug}` | {status} | {when} |" in docs, slug


async def test_server_answers_as_its_openapi_document_says(node):
    # A name no generated request can hit (Hypothesis draws text from this file's literals).
    token = await node.pair(f"fuzzing manager {secrets.token_hex(4)}", manager=True)
    auth = {"Authorization": f"Bearer {token}"}
    document = await served_document(node, token)
    seeds = await seed(node, auth)
    schemathesis.experimental.OPEN_API_3_1.enable()
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        failures = await asyncio.get_running_loop().run_in_executor(
            executor, fuzz, document, node.url, token, seeds
        )
    finally:
        executor.shutdown(wait=True)
        schemathesis.experimental.OPEN_API_3_1.disable()
    report = "\n\n".join(failures).replace(token, "<token>")  # never print the secret
    assert not failures, report
    async with node.session.get(f"{node.url}/api/v1/terminals/me", headers=auth) as response:
        assert response.status == 200, "the fuzzing revoked its own token"


# -- seeding -----------------------------------------------------------------------------


class Seeds(dict):
    """By operation id, explicit parts of requests (real ids, bodies that make sense) for
    the fuzzing to build on."""

    def use(self, operation_id: str, *, order: str | None = None, **parts) -> None:
        if order is not None:
            parts.setdefault("path_parameters", {})["order_id"] = order
        if "body" in parts:
            parts["media_type"] = "application/json"
        self.setdefault(operation_id, []).append(parts)


async def seed(node, auth: dict) -> Seeds:
    """Orders in every state, terminals to revoke and codes to pair with, made through the
    API; and the request parts that reach them."""

    async def call(method: str, path: str, body: dict | None = None, **headers) -> dict:
        headers = {**auth, **headers}
        async with node.session.request(method, node.url + path, json=body, headers=headers) as r:
            assert r.status in (200, 201), await r.text()
            return await r.json()

    seeds = Seeds()
    for state in ("open", "fired", "paid", "closed", "void") * 2:
        opened = await call("POST", "/api/v1/orders", {"channel": "dine_in", "table": "7"})
        order = opened["order"]["id"]
        for operation_id in ("get_order", "add_line", "add_discount", "add_payment", "add_tip"):
            seeds.use(operation_id, order=order)
        for operation_id in ("fire", "close", "void_order", "reopen"):
            seeds.use(operation_id, order=order)
        line = {"sku": "BURGER", "qty": 2, "modifiers": ["CHEESE"], "note": "no pickles"}
        seeds.use("add_line", order=order, body=line)
        angus = {"sku": "ANGUS", "modifiers": ["RARE", {"code": "CHEESE", "qty": 2}, "BBQ"]}
        seeds.use("add_line", order=order, body=angus)
        seeds.use("add_line", order=order, body={"sku": "SPECIAL", "price": 1200})
        seeds.use("add_payment", order=order, body={"tender": "cash", "amount": 500, "tip": 50})
        if state == "void":
            await call("POST", f"/api/v1/orders/{order}/void", {"reason": "walked out"})
            continue
        fries = await call("POST", f"/api/v1/orders/{order}/lines", {"sku": "FRIES"})
        line_id = fries["line_id"]
        seeds.use("void_line", order=order, path_parameters={"line_id": line_id})
        seeds.use("add_discount", order=order, body={"reason": "loyalty", "percent": "12.5"})
        seeds.use(
            "add_discount", order=order, body={"reason": "cold", "amount": 100, "line_id": line_id}
        )
        if state == "fired":
            fired = await call("POST", f"/api/v1/orders/{order}/fire")
            seeds.use("bump", order=order, body={"fire_id": fired["fire_id"], "station": "fryer"})
        if state in ("paid", "closed"):
            due = fries["order"]["totals"]["balance_due"]
            payment = {"tender": "card", "amount": due}
            paid = await call("POST", f"/api/v1/orders/{order}/payments", payment)
            seeds.use(
                "add_tip", order=order, body={"amount": 200, "payment_key": paid["payment_key"]}
            )
        if state == "closed":
            await call("POST", f"/api/v1/orders/{order}/close")
            seeds.use("reopen", order=order, body={"reason": "wrong tender"})

    for sku in ("FRIES", "ANGUS"):  # the 86s of items and modifiers, and back
        item = {"path_parameters": {"sku": sku}}
        seeds.use("mark_item_unavailable", **item, body={"reason": "ran out"})
        seeds.use("mark_item_available", **item)
    for code in ("BACON", "LARGE"):
        seeds.use("mark_modifier_unavailable", path_parameters={"code": code}, body={})
        seeds.use("mark_modifier_available", path_parameters={"code": code})
    seeds.use("get_station_items", path_parameters={"station": "grill"})
    page = await call("GET", "/api/v1/orders?limit=3")
    seeds.use("list_orders", query={"after": page["next"], "limit": 2})
    seeds.use("list_orders", query={"status": "open,fired", "open": "true", "table": "7"})
    for name in ("spare till 1", "spare till 2"):
        spare = {"Authorization": f"Bearer {await node.pair(name)}"}
        me = await call("GET", "/api/v1/terminals/me", **spare)
        seeds.use("revoke_terminal", path_parameters={"terminal_id": me["terminal"]["id"]})
    for _ in range(2):
        code = node.context.terminals.codes.create_code(
            "new till", "terminal", ttl=dt.timedelta(minutes=5), now=node.clock()
        )
        seeds.use("pair", body={"code": code.code})
    return seeds


# -- fuzzing (in a worker thread: the server runs on the test's event loop) ------------------


def fuzz(document: dict, url: str, token: str, seeds: Seeds) -> list[str]:
    """What each operation answered against CHECKS, over generated and seeded requests."""
    schema = schemathesis.from_dict(document, base_url=url)
    failures = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in NOT_FUZZED:
                continue
            strategy = operation.as_strategy()
            explicit = seeds.get(operation.definition.raw["operationId"])
            if explicit:
                strategy = st.one_of(strategy, seeded(operation, explicit))
            failure = fuzz_operation(strategy, session, url, token)
            if failure:
                failures.append(f"{operation.verbose_name}: {failure}")
    return failures


def seeded(operation, explicit: list[dict]):
    """Requests built on the seeded parts; each POST with a fresh Idempotency-Key, as a
    well-behaved terminal sends them (generated requests reuse keys, and get replays)."""
    cases = st.sampled_from(explicit).flatmap(lambda parts: operation.as_strategy(**parts))
    if operation.method.upper() != "POST":
        return cases

    def with_key(case, key):
        case.headers = {**(case.headers or {}), "Idempotency-Key": str(key)}
        return case

    return st.builds(with_key, cases, st.uuids())


def fuzz_operation(strategy, session: requests.Session, url: str, token: str) -> str | None:
    """What went wrong (every distinct failure Hypothesis found), or None."""
    auth = {"Authorization": f"Bearer {token}"}

    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case) -> None:
        response = case.call(base_url=url, session=session, headers=auth, timeout=10)
        case.validate_response(response, checks=CHECKS)

    try:
        check()
    except ExceptionGroup as group:
        return "\n".join(str(exc) for exc in group.exceptions)
    except Exception as exc:
        return str(exc)
    return None
