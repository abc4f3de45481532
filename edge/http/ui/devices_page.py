"""The Devices page: printers, drawers, displays and stations, test prints, live status.

Adding, editing or removing a device writes the configuration file and applies it at once
(the daemon's reload); a test page goes through the print queue like any job; opening a
drawer is audited in the order log as a no-sale, which only a manager may do.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from edge.config.edit import remove_device, routed_stations, set_device
from edge.http.context import context
from edge.http.ui.config_forms import editor
from edge.http.ui.device_forms import (
    KIND_LABELS,
    URL_EXAMPLES,
    WIDTHS,
    field_of,
    form_values,
    read_device_form,
)
from edge.http.ui.forms import FormErrors
from edge.http.ui.node_health import device_rows
from edge.http.ui.pages import flash, render, require_user, see_other
from edge.orders.log import Actor
from edge.printing.layout import printer_test_document
from edge.runtime.errors import ConfigError, DeviceError, OrderError

routes = web.RouteTableDef()

STAFF = ("manager", "technician")
# every key a device of some kind describes, so the page can ask any device for any of them
DESCRIBED_KEYS = {
    **dict.fromkeys(("url", "printer", "backup", "station", "showing", "detail")),
    "stations": [],
}


async def _described(request: web.Request) -> list[dict]:
    """Every device as `Devices.describe()` has it, with its state in the dashboard's words."""
    devices = context(request).devices
    described = devices.describe()
    waiting: dict[str, int] = {}
    for (printer, _state), count in (await devices.queue.jobs.waiting_counts()).items():
        waiting[printer] = waiting.get(printer, 0) + count
    return [
        {
            **DESCRIBED_KEYS,
            **device,
            "label": KIND_LABELS[device["kind"]],
            "word": row.state,
            "tone": row.level,
            "waiting": row.waiting,
        }
        for device, row in zip(described, device_rows(described, waiting), strict=True)
    ]


@routes.get("/ui/devices", name="ui_devices")
async def devices_page(request: web.Request) -> web.Response:
    user = require_user(request, *STAFF)
    ctx = context(request)
    catalog = await ctx.book.catalog()
    routes_now = ctx.devices.settings.stations
    names = ctx.devices.settings.names()
    bump_bars = ctx.devices.settings.bump_bars.values()
    stations = [
        {
            "id": station,
            "name": catalog.stations.get(station, station),
            "printer": names.get(routes_now.get(station, ""), routes_now.get(station)),
            "bump_bars": [bar.name for bar in bump_bars if bar.station == station],
        }
        for station in sorted({*catalog.stations, *routes_now})
    ]
    return render(
        request,
        "devices.html",
        title="Devices",
        devices=await _described(request),
        names=names,
        stations=stations,
        kinds=KIND_LABELS,
        editable=ctx.config_editor is not None,
        may_open_drawer=user.manager,
    )


@routes.get("/ui/devices/status", name="ui_devices_status")
async def devices_status(request: web.Request) -> web.Response:
    """The devices' states for the page's poll (every 2 s)."""
    require_user(request, *STAFF)
    states = [
        {"id": d["id"], "word": d["word"], "tone": d["tone"], "detail": d.get("detail")}
        for d in await _described(request)
    ]
    return web.json_response({"devices": states}, headers={"Cache-Control": "no-store"})


async def _form_page(
    request: web.Request,
    *,
    existing: str | None,
    values: dict,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    ctx = context(request)
    catalog = await ctx.book.catalog()
    printers = {p.id: p.name for p in ctx.devices.settings.printers.values()}
    kind = values["kind"]
    return render(
        request,
        "device_form.html",
        status=status,
        title=f"Edit {values['name'] or existing}"
        if existing
        else f"Add a {KIND_LABELS[kind].lower()}",
        existing=existing,
        values=values,
        errors=errors or {},
        kind_label=KIND_LABELS[kind],
        url_example=URL_EXAMPLES[kind],
        widths=WIDTHS,
        printers={pid: name for pid, name in printers.items() if pid != existing},
        stations={**{s: s for s in values["stations"]}, **catalog.stations},
    )


@routes.get("/ui/devices/new", name="ui_device_new")
async def new_device(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    editor(request)
    kind = request.query.get("kind", "printer")
    kind = kind if kind in KIND_LABELS else "printer"
    printers = list(context(request).devices.settings.printers)
    # most drawers hang on a receipt printer's kick port
    table = {"kind": kind, **({"printer": printers[0]} if kind == "drawer" and printers else {})}
    values = form_values(table, [])
    return await _form_page(request, existing=None, values=values)


@routes.get("/ui/devices/{device_id}/edit", name="ui_device_edit")
async def edit_device(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    device_id = request.match_info["device_id"]
    doc, _ = await editor(request).read()
    table = (doc.get("devices") or {}).get(device_id)
    if table is None:
        raise web.HTTPNotFound(reason=f"No device {device_id!r} in the configuration file")
    values = form_values(table, routed_stations(doc, device_id))
    return await _form_page(request, existing=device_id, values=values)


@routes.post("/ui/devices/save", name="ui_device_save")
async def save_device(request: web.Request) -> web.Response:
    user = require_user(request, *STAFF)
    form = await request.post()
    existing = str(form.get("existing", "")) or None
    stations = [str(s) for s in form.getall("stations", [])]
    shown = {**form_values(None, stations), **{k: str(v) for k, v in form.items()}}
    shown["stations"] = stations
    try:
        change = read_device_form(form, stations, existing=existing)
        config_file = editor(request)
        if existing is None:
            doc, _ = await config_file.read()
            if change.device_id in (doc.get("devices") or {}):
                raise FormErrors({"id": f"there is already a device {change.device_id!r}"})
        await config_file.change(
            set_device(change.device_id, change.values, stations=change.stations)
        )
    except FormErrors as exc:
        return await _form_page(
            request, existing=existing, values=shown, errors=exc.errors, status=400
        )
    except ConfigError as exc:
        field = field_of(exc, shown.get("id") or existing or "")
        errors = {field: exc.reason} if field else {"": str(exc)}
        return await _form_page(request, existing=existing, values=shown, errors=errors, status=400)
    verb = "Saved" if existing else "Added"
    where = f" at {change.values['url']}" if change.values.get("url") else ""
    message = f"{verb} {KIND_LABELS[change.kind].lower()} ‘{change.name}’{where}"
    if change.stations:
        message += f", printing for {', '.join(change.stations)}"
    if change.kind == "printer" and form.get("test_print"):
        try:
            job = await _print_test_page(request, change.device_id, user.label)
        except DeviceError as exc:
            message += f"; no test print: {exc}"
        else:
            message += f"; test print sent (job {job})"
    flash(request, message)
    raise see_other("/ui/devices")


async def _print_test_page(request: web.Request, printer_id: str, by: str) -> int:
    ctx = context(request)
    printer = ctx.devices.queue.worker(printer_id).config
    document = printer_test_document(
        printer.name, printer.url.text, by, ctx.now().isoformat(timespec="seconds")
    )
    job, _ = await ctx.devices.queue.submit(
        key=f"test:{secrets.token_hex(12)}",
        kind="test",
        printer=printer_id,
        document=document,
        requested_by=by,
    )
    return job.id


@routes.post("/ui/devices/{device_id}/test-print", name="ui_device_test_print")
async def test_print(request: web.Request) -> web.Response:
    user = require_user(request, *STAFF)
    device_id = request.match_info["device_id"]
    try:
        job = await _print_test_page(request, device_id, user.label)
    except DeviceError as exc:
        flash(request, f"No test print: {exc}", "error")
    else:
        name = context(request).devices.settings.printers[device_id].name
        flash(request, f"Test print sent to ‘{name}’ (job {job})")
    raise see_other("/ui/devices")


@routes.post("/ui/devices/{device_id}/remove", name="ui_device_remove")
async def remove(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    device_id = request.match_info["device_id"]
    config_file = editor(request)
    doc, config = await config_file.read()
    name = config.devices.names().get(device_id, device_id)
    table = (doc.get("devices") or {}).get(device_id) or {}
    what = KIND_LABELS.get(str(table.get("kind")), "device").lower()
    stations = routed_stations(doc, device_id)
    try:
        await config_file.change(remove_device(device_id))
    except ConfigError as exc:
        flash(request, f"The {what} ‘{name}’ was not removed: {exc.key}: {exc.reason}", "error")
        raise see_other("/ui/devices") from None
    message = f"Removed {what} ‘{name}’"
    if stations:
        message += f"; stations {', '.join(stations)} no longer print on this node"
    flash(request, message)
    raise see_other("/ui/devices")


@routes.post("/ui/drawers/{drawer_id}/open", name="ui_drawer_open")
async def open_drawer(request: web.Request) -> web.Response:
    """A no-sale open, audited in the order log with the manager and the reason."""
    user = require_user(request, "manager")
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    drawer_id = request.match_info["drawer_id"]
    if not reason:
        flash(request, "The drawer stays shut: say why it is opened (e.g. change for the float)",
              "error")  # fmt: skip
        raise see_other("/ui/devices")
    try:
        entry = await context(request).devices.drawers.open(
            Actor(user.label, manager=True), drawer_id=drawer_id, order_id=None, reason=reason
        )
    except (OrderError, DeviceError) as exc:
        flash(request, f"The drawer did not open: {exc}", "error")
    else:
        flash(request, f"Opened ‘{entry['drawer_name']}’ (no sale: {reason}); recorded in the "
              "order log")  # fmt: skip
    raise see_other("/ui/devices")
