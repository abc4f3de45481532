"""The OpenAPI description of this node's devices: printers, print jobs, receipts and cash
drawers (edge/http/api/devices.py). Shapes come from the code that makes them: `Devices.describe`,
`Job.to_dict`, `PrinterState.to_dict` and the drawer-open audit entry of edge/devices/drawers.py.
"""

from __future__ import annotations

from edge.config.devices import DEVICE_ID
from edge.http.api.openapi.operations import answer, header, operation, parameter, query
from edge.http.api.openapi.schemas import (
    DATE,
    INSTANT,
    STAMP,
    TEXT,
    WHO,
    array,
    closed,
    nullable,
    ref,
    string,
)
from edge.printing.jobs import STATES

JOB_ID_MAX = 10**18 - 1  # edge/http/api/devices.py takes at most 18 digits
MAX_JOBS = 500  # edge/http/api/devices.py list_jobs
# edge/printing/worker.py; "elsewhere": a store printer another node drives now
PRINTER_STATES = ("unknown", "ready", "problem", "offline", "elsewhere")

DEVICE_HEADERS = {
    "PrintJobLocation": {
        "description": "the print job's URL, to follow its progress",
        "required": True,
        "schema": {"type": "string", "pattern": r"^/api/v1/print-jobs/[0-9]+$"},
    },
}

ID = string("the device's id in the node's configuration", pattern=f"^{DEVICE_ID.pattern}$")
SECONDS = {"type": "number", "description": "Unix time, in seconds"}


def _or_null(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _device(kind: str, fields: dict) -> dict:
    common = {"id": ID, "kind": {"const": kind}, "name": string("the name people see")}
    return closed({**common, "url": string("its address (docs/devices.md)"), **fields})


def _device_schemas() -> dict[str, dict]:
    flags = ("online", "cover_open", "paper_near_end", "paper_out", "drawer_open", "error")
    problems = array(string("paper out, cover open, paper low, offline, not answering, …"))
    return {
        "PrinterStatus": closed(
            {
                **{flag: {"type": "boolean"} for flag in flags},
                "ready": {"type": "boolean", "description": "it can print now"},
                "problems": problems,
            },
            description="what the printer last reported about itself (DLE EOT)",
        ),
        "Device": {
            "oneOf": [
                _device(
                    "printer",
                    {
                        "backup": nullable(string("the printer that takes its jobs when unusable")),
                        "stations": array(string("a catalog station whose tickets it prints")),
                        "driven_by": nullable(
                            string("the node that drives it now (null: no node does)")
                        ),
                        "preferred_by": nullable(
                            string("the node that prefers to drive it (null: plugged into one)")
                        ),
                        "moved": _or_null(
                            closed(
                                {
                                    "from": nullable(string("the node that drove it before")),
                                    "why": string('in words, e.g. "unreachable for 15 s"'),
                                    "at": INSTANT,
                                },
                                description="its last takeover or return (null: it never moved)",
                            )
                        ),
                        "state": {"enum": list(PRINTER_STATES)},
                        "problems": problems,
                        "detail": nullable(string("what the last failure said")),
                        "status": _or_null(ref("PrinterStatus")),
                        "since": nullable({**SECONDS, "description": "when `state` last changed"}),
                        "failed_over": {
                            "type": "boolean",
                            "description": "its jobs go to its backup",
                        },
                    },
                ),
                closed(
                    {
                        "id": ID,
                        "kind": {"const": "drawer"},
                        "name": string("the name people see"),
                        "url": nullable(string("a serial drawer's address")),
                        "printer": nullable(string("the printer whose drawer port kicks it")),
                        "open": nullable(
                            {"type": "boolean", "description": "as its printer last reported"}
                        ),
                    }
                ),
                _device(
                    "display",
                    {
                        "showing": {
                            "type": ["array", "null"],
                            "items": {"type": "string"},
                            "minItems": 2,
                            "maxItems": 2,
                            "description": "its two lines; null until it first showed something",
                        }
                    },
                ),
                _device("bump_bar", {"station": string("the station whose tickets it bumps")}),
            ],
            "description": "a device of this node and its state",
        },
        "PrintJob": closed(
            {
                "id": {"type": "integer", "minimum": 1},
                "kind": string("ticket or receipt"),
                "state": string("queued, sending, printed or skipped", enum=list(STATES)),
                "printer": string("the printer it is for now (its backup after failover)"),
                "requested_printer": string("the printer it was made for"),
                "order_id": nullable(string("the order it prints")),
                "reprint_pending": {
                    "type": "boolean",
                    "description": "queued, and its copy will be marked REPRINT",
                },
                "backup_for": nullable(string("the printer whose job this was, after failover")),
                "created_at": INSTANT,
                "attempts": {"type": "integer", "minimum": 0},
                "last_error": nullable(string("why the last attempt failed, or why it skipped")),
                "printed_at": nullable(INSTANT),
                "printed_marks": _or_null(
                    closed(
                        {
                            "reprint": {"type": "boolean"},
                            "late_minutes": nullable({"type": "integer", "minimum": 0}),
                            "backup_for": nullable(string("")),
                        },
                        description="the marks its printed copy carried",
                    )
                ),
                "requested_by": nullable(WHO),
            },
            description="a print job, without its document",
        ),
        "DrawerOpen": closed(
            {
                "id": string("the audit entry's id"),
                "drawer": ID,
                "drawer_name": string(""),
                "order": nullable(string("the order it was opened for; null for a no sale")),
                "number": nullable(string("that order's number")),
                "reason": string('"sale" unless given'),
                "by": WHO,
                "node": string("the node that opened it"),
                "at": STAMP,
            },
            description="an audited drawer open, in the business day's `drawer_opens` map",
        ),
        "PrintRequest": closed(
            {"printer": nullable({**TEXT, "description": "a printer's id (default: see docs)"})},
            required=(),
        ),
        "OpenDrawer": closed(
            {
                "drawer": nullable(
                    {**TEXT, "description": "a drawer's id (default: the only one)"}
                ),
                "order_id": nullable({**TEXT, "description": "the order; absent: a no sale"}),
                "reason": nullable({**TEXT, "description": 'why (default with an order: "sale")'}),
            },
            required=(),
            anyOf=[
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("order_id", "reason")
            ],
            description="a sale (order_id) or a no sale (a manager, with a reason)",
        ),
    }


DEVICE_SCHEMAS = _device_schemas()


def _print_answers() -> dict[str, dict]:
    """A print request's answers: 202 with a new job, 200 with the one its key already made."""
    job = closed({"job": ref("PrintJob")})
    made = "the job this request's Idempotency-Key already made (the node lost its answer)"
    return {
        status: {**answer(description, job), "headers": {"Location": header("PrintJobLocation")}}
        for status, description in (
            ("200", made),
            ("202", "queued: the job is durable and will print; follow it at Location"),
        )
    }


def device_paths() -> dict[str, dict]:
    """The device routes of edge/http/api/devices.py."""
    job_id = {
        "name": "job_id",
        "in": "path",
        "required": True,
        "description": "a print job's id (another value: 400 invalid-parameter)",
        "schema": {"type": "integer", "minimum": 1, "maximum": JOB_ID_MAX},
    }
    return {
        "/api/v1/devices": {
            "get": operation(
                "list_devices",
                "Every device of this node, printers with their live state",
                "devices",
                {"200": answer("the devices", closed({"devices": array(ref("Device"))}))},
            )
        },
        "/api/v1/print-jobs": {
            "get": operation(
                "list_print_jobs",
                "Recent print jobs, newest first",
                "devices",
                {"200": answer("the jobs", closed({"jobs": array(ref("PrintJob"))}))},
                problems=("invalid-parameter",),
                params=(
                    query("printer", "only jobs for this printer of this node", {"type": "string"}),
                    query("state", "only jobs in this state", {"enum": list(STATES)}),
                    query("order_id", "only jobs of this order", {"type": "string"}),
                    query(
                        "limit",
                        "jobs to list",
                        {"type": "integer", "minimum": 1, "maximum": MAX_JOBS, "default": 50},
                    ),
                ),
            )
        },
        "/api/v1/print-jobs/{job_id}": {
            "get": operation(
                "get_print_job",
                "One print job: its state, attempts, last error and printed marks",
                "devices",
                {"200": answer("the job", closed({"job": ref("PrintJob")}))},
                problems=("invalid-parameter", "unknown-job"),
                params=(job_id,),
            )
        },
        "/api/v1/print-jobs/{job_id}/reprint": {
            "post": operation(
                "reprint",
                "Print a job's document again, marked REPRINT, on its printer or another",
                "devices",
                _print_answers(),
                problems=("invalid-parameter", "unknown-job", "unknown-device"),
                body="PrintRequest",
                params=(job_id,),
                keyed=True,
                schemas=DEVICE_SCHEMAS,
            )
        },
        "/api/v1/orders/{order_id}/receipt": {
            "post": operation(
                "print_receipt",
                "Queue the receipt of an order as it now is",
                "devices",
                _print_answers(),
                problems=("unknown-device", "unknown-order"),
                body="PrintRequest",
                params=(parameter("OrderId"),),
                keyed=True,
                schemas=DEVICE_SCHEMAS,
            )
        },
        "/api/v1/drawers/open": {
            "post": operation(
                "open_drawer",
                "Record a drawer open in the order log, then open the drawer",
                "devices",
                {"201": answer("opened", closed({"drawer_open": ref("DrawerOpen")}))},
                problems=(
                    "manager-required",
                    "unknown-device",
                    "unknown-order",
                    "business-day-closed",
                    "device-failed",
                ),
                body="OpenDrawer",
                keyed=True,
                schemas=DEVICE_SCHEMAS,
            )
        },
        "/api/v1/drawer-opens": {
            "get": operation(
                "list_drawer_opens",
                "A business day's audited drawer opens, oldest first",
                "devices",
                {
                    "200": answer(
                        "the drawer opens",
                        closed({"business_date": DATE, "drawer_opens": array(ref("DrawerOpen"))}),
                    )
                },
                problems=("invalid-parameter",),
                params=(
                    query(
                        "date",
                        "business date (default: today's)",
                        {"type": "string", "format": "date"},
                    ),
                ),
            )
        },
    }
