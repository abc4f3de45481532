"""The Menu page: the store's catalog (items, prices, tax rates, kitchen stations, modifiers).

A store without a hub edits its catalog here; the change is a write to the catalog document,
which replicates to every node of the store. When `upstream.url` is set the hub manages the
catalog (HQ edits it, and it flows down), so the page shows it read-only.
"""

from __future__ import annotations

from aiohttp import web

from edge.access.users import User
from edge.http.context import context
from edge.http.ui.forms import FormErrors
from edge.http.ui.menu_forms import (
    format_price,
    item_values,
    read_item_form,
    read_station_form,
    read_tax_form,
)
from edge.http.ui.pages import flash, render, require_user, see_other
from edge.orders.book import OrderBook
from edge.orders.catalog import change_problems

routes = web.RouteTableDef()

SHOWN_PROBLEMS = 3  # what a refused change lists of what it would break
KINDS = {  # the catalog's root map, and what one entry is called
    "items": "item",
    "taxes": "tax rate",
    "stations": "kitchen station",
}


def _editor(request: web.Request) -> User:
    user = require_user(request, "manager")
    if context(request).upstream is not None:
        flash(request, "The hub manages this menu: change it at HQ", "error")
        raise see_other("/ui/menu")
    return user


async def change_catalog(
    book: OrderBook, patch: dict, removed: dict[str, list[str]] | None = None
) -> None:
    """Write `patch` and remove `removed`, if that leaves the catalog whole; else raise
    FormErrors saying what would break (the check HQ's edits get at the hub)."""
    current = await book.catalog_entries()
    problems = change_problems(current, patch, removed)
    if problems:
        more = (
            f"; and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
        )
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        raise FormErrors({"": f"That would break the menu: {shown}{more}"})
    if removed:
        await book.remove_catalog_entries(removed)
    await book.import_catalog(patch)  # writes the patch, and reads the catalog afresh


@routes.get("/ui/menu", name="ui_menu")
async def menu_page(request: web.Request) -> web.Response:
    require_user(request, "manager")
    ctx = context(request)
    catalog = await ctx.book.catalog()
    currency = catalog.currency
    items = [
        {
            "sku": item.sku,
            "name": item.name,
            "price": format_price(item.price, currency),
            "tax": catalog.taxes[item.tax].name,
            "station": catalog.stations.get(item.station, "—") if item.station else "—",
            "modifiers": [f"{m.name} (+{format_price(m.price, currency)})" if m.price else m.name
                          for m in item.modifiers.values()],
        }
        for item in sorted(catalog.items.values(), key=lambda i: i.name.casefold())
    ]  # fmt: skip
    return render(
        request,
        "menu.html",
        title="Menu",
        items=items,
        taxes=list(catalog.taxes.values()),
        stations=catalog.stations,
        currency=currency,
        managed_by_hub=ctx.upstream is not None,
        problems=catalog.problems,
        errors={},
    )


async def _item_page(request, *, existing, values, errors=None, status=200) -> web.Response:
    catalog = await context(request).book.catalog()
    return render(
        request,
        "menu_item.html",
        status=status,
        title=f"Edit {values['name']}" if existing else "Add an item",
        existing=existing,
        values=values,
        errors=errors or {},
        taxes={t.id: f"{t.name} ({t.rate} %)" for t in catalog.taxes.values()},
        stations=catalog.stations,
        currency=catalog.currency,
    )


@routes.get("/ui/menu/items/new", name="ui_menu_item_new")
async def new_item(request: web.Request) -> web.Response:
    _editor(request)
    catalog = await context(request).book.catalog()
    return await _item_page(request, existing=None, values=item_values(None, catalog.currency))


@routes.get("/ui/menu/items/{sku}/edit", name="ui_menu_item_edit")
async def edit_item(request: web.Request) -> web.Response:
    _editor(request)
    catalog = await context(request).book.catalog()
    item = catalog.items.get(request.match_info["sku"])
    if item is None:
        raise web.HTTPNotFound(reason="No such item on the menu")
    values = item_values(item, catalog.currency)
    return await _item_page(request, existing=item.sku, values=values)


@routes.post("/ui/menu/items/save", name="ui_menu_item_save")
async def save_item(request: web.Request) -> web.Response:
    _editor(request)
    form = await request.post()
    book = context(request).book
    catalog = await book.catalog()
    existing = str(form.get("existing", "")) or None
    try:
        sku, entry = read_item_form(form, catalog.currency, existing=existing, taken=catalog.items)
        await change_catalog(book, {"items": {sku: entry}})
    except FormErrors as exc:
        values = {**item_values(None, catalog.currency), **{k: str(v) for k, v in form.items()}}
        return await _item_page(
            request, existing=existing, values=values, errors=exc.errors, status=400
        )
    price = format_price(int(entry["price"]), catalog.currency)
    flash(request, f"{'Saved' if existing else 'Added'} ‘{entry['name']}’ at {price} "
          f"{catalog.currency}; every node of the store has it now")  # fmt: skip
    raise see_other("/ui/menu")


@routes.post("/ui/menu/{kind}/save", name="ui_menu_entry_save")
async def save_entry(request: web.Request) -> web.Response:
    """A tax rate or a kitchen station, from the small forms on the menu page."""
    _editor(request)
    kind = request.match_info["kind"]
    if kind not in ("taxes", "stations"):
        raise web.HTTPNotFound()
    form = await request.post()
    existing = str(form.get("existing", "")) or None
    read = read_tax_form if kind == "taxes" else read_station_form
    try:
        key, entry = read(form, existing=existing)
        await change_catalog(context(request).book, {kind: {key: entry}})
    except FormErrors as exc:
        flash(request, f"The {KINDS[kind]} was not saved: " + "; ".join(
            f"{field}: {text}" if field else text for field, text in exc.errors.items()
        ), "error")  # fmt: skip
    else:
        flash(request, f"Saved {KINDS[kind]} ‘{entry['name']}’")
    raise see_other("/ui/menu")


@routes.post("/ui/menu/{kind}/{key}/remove", name="ui_menu_entry_remove")
async def remove_entry(request: web.Request) -> web.Response:
    _editor(request)
    kind, key = request.match_info["kind"], request.match_info["key"]
    if kind not in KINDS:
        raise web.HTTPNotFound()
    try:
        await change_catalog(context(request).book, {}, {kind: [key]})
    except FormErrors as exc:
        flash(request, f"{key} was not removed. {exc.errors['']}", "error")
    else:
        flash(request, f"Removed {KINDS[kind]} {key} from the menu")
    raise see_other("/ui/menu")
