"""`/metrics`: Prometheus text for the node's HTTP traffic, its store and its orders.

Each application has its own registry, so several nodes in one process (tests) never share
counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sync.store import DocStore

disable_created_metrics()  # the *_created series only double what scrapers store

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ApiMetrics:
    """The node's Prometheus metrics and the middleware that counts requests."""

    def __init__(self, store: DocStore, open_orders: Callable[[], int | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "posedge_http_requests",
            "HTTP requests answered, by route, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "posedge_http_request_duration_seconds",
            "Time from receiving a request to its answer, by route and method",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.commit_latency = Histogram(
            "posedge_store_commit_duration_seconds",
            "Time one group commit of the order log took (fsync included)",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.committed = Counter(
            "posedge_store_updates_committed",
            "Order-log updates made durable",
            registry=self.registry,
        )
        gauge = Gauge(
            "posedge_open_orders",
            "Orders of today's business day neither closed nor void",
            registry=self.registry,
        )
        gauge.set_function(lambda: open_orders() or 0)
        self.event_listeners = Gauge(
            "posedge_event_listeners",
            "Terminals connected to /api/v1/events",
            registry=self.registry,
        )
        self.printer_ready = Gauge(
            "posedge_printer_ready",
            "1 if the printer is online with paper and its cover closed, else 0",
            ("printer",),
            registry=self.registry,
        )
        self.printer_problem = Gauge(
            "posedge_printer_problem",
            "1 for each problem a printer reports (paper out, cover open, offline, …)",
            ("printer", "problem"),
            registry=self.registry,
        )
        self.printer_driver = Gauge(
            "posedge_printer_driver",
            "1 for the node that drives each of the store's network printers, as this node "
            "knows it",
            ("printer", "node"),
            registry=self.registry,
        )
        self.printer_failed_over = Gauge(
            "posedge_printer_failed_over",
            "1 while a printer's jobs go to its backup",
            ("printer",),
            registry=self.registry,
        )
        self.jobs_waiting = Gauge(
            "posedge_print_jobs_waiting",
            "Print jobs queued or being sent, by the printer they wait for",
            ("printer",),
            registry=self.registry,
        )
        self.jobs_printed = Gauge(
            "posedge_print_jobs_printed",
            "Print jobs printed since the daemon started, by printer",
            ("printer",),
            registry=self.registry,
        )
        self.peer_connected = Gauge(
            "posedge_peer_connected",
            "1 while the link with a peer node is up",
            ("peer",),
            registry=self.registry,
        )
        self.peer_last_sync = Gauge(
            "posedge_peer_last_sync_timestamp_seconds",
            "When the last frame came from a peer node (Unix time)",
            ("peer",),
            registry=self.registry,
        )
        self.peer_waiting = Gauge(
            "posedge_peer_waiting_frames",
            "Sync frames queued for a peer node: how far behind it is",
            ("peer",),
            registry=self.registry,
        )
        self.upstream_connected = Gauge(
            "posedge_upstream_connected",
            "1 while the link with the hub is up",
            registry=self.registry,
        )
        self.upstream_backlog_orders = Gauge(
            "posedge_upstream_backlog_orders",
            "Orders changed since the hub last acknowledged their business day",
            registry=self.registry,
        )
        self.upstream_backlog_bytes = Gauge(
            "posedge_upstream_backlog_bytes",
            "Bytes of changes the hub has not acknowledged",
            registry=self.registry,
        )
        self.upstream_backlog_age = Gauge(
            "posedge_upstream_backlog_oldest_seconds",
            "Age of the oldest change the hub has not acknowledged (0: none)",
            registry=self.registry,
        )
        self.upstream_last_sync = Gauge(
            "posedge_upstream_last_sync_timestamp_seconds",
            "When the last frame came from the hub (Unix time)",
            registry=self.registry,
        )
        store.commit_observers.append(self._on_commit)

    def observe_peers(self, peers: list[dict]) -> None:
        """Set the peer gauges from the peer manager's view (`PeerStatus.to_dict`)."""
        for peer in peers:
            name = peer["node"]
            self.peer_connected.labels(name).set(int(peer["connected"]))
            self.peer_waiting.labels(name).set(peer["waiting"])
            if peer["last_sync"] is not None:
                self.peer_last_sync.labels(name).set(peer["last_sync"])

    def observe_upstream(self, status: dict) -> None:
        """Set the hub link's gauges from `UpstreamLink.status`."""
        self.upstream_connected.set(int(status["state"] == "connected"))
        backlog = status["backlog"]
        self.upstream_backlog_orders.set(backlog["orders"])
        self.upstream_backlog_bytes.set(backlog["bytes"])
        self.upstream_backlog_age.set(backlog["oldest_age"] or 0)
        if status["last_sync"] is not None:
            self.upstream_last_sync.set(status["last_sync"])

    def observe_printers(
        self, states: dict, waiting: dict[tuple[str, str], int], drivers: dict[str, str]
    ) -> None:
        """Set the printer gauges from the workers' states, the queue's waiting counts and
        the nodes driving the store's printers."""
        for gauge in (self.printer_problem, self.jobs_waiting, self.printer_driver):
            gauge.clear()
        for printer, node in drivers.items():
            self.printer_driver.labels(printer, node).set(1)
        for printer, state in states.items():
            self.printer_ready.labels(printer).set(int(state.state == "ready"))
            self.printer_failed_over.labels(printer).set(int(state.failed_over))
            self.jobs_printed.labels(printer).set(state.printed)
            self.jobs_waiting.labels(printer).set(0)
            for problem in state.problems:
                self.printer_problem.labels(printer, problem).set(1)
        for (printer, _state), count in waiting.items():
            self.jobs_waiting.labels(printer).inc(count)

    def _on_commit(self, seconds: float, updates: int) -> None:
        self.commit_latency.observe(seconds)
        self.committed.inc(updates)

    def render(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


METRICS = web.AppKey("metrics", ApiMetrics)


def _route_of(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Count every answer by route and status, and time it (outermost middleware)."""
    started = time.perf_counter()
    response = await handler(request)
    metrics = request.app[METRICS]
    route = _route_of(request)
    if not isinstance(response, web.WebSocketResponse):  # a socket's life is no latency
        metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
    metrics.requests.labels(route, request.method, str(response.status)).inc()
    return response
