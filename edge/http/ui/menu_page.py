"""The Menu page: the store's catalog (items, prices, categories, modifier groups, tax
rates, kitchen stations), and what is unavailable for now ("86").

A store without a hub edits its catalog here; the change is a write to the catalog document,
which replicates to every node of the store. When `upstream.url` is set the hub manages the
catalog (HQ edits it, and it flows down), so the page shows it read-only. Marking an item
or a modifier unavailable and available again is the store's own business either way: a
toggle per item and per modifier, written to the store document (availability.py).
"""

from __future__ import annotations

from aiohttp import web

from edge.access.users import User
from edge.http.context import context
from edge.http.ui.forms import FormErrors, field_text
from edge.http.ui.menu_forms import (
    category_values,
    format_price,
    group_values,
    item_values,
    read_category_form,
    read_group_form,
    read_item_form,
    read_station_form,
    read_tax_form,
)
from edge.http.ui.pages import flash, render, require_user, see_other
from edge.orders.availability import ITEM_KIND, MODIFIER_KIND
from edge.orders.book import OrderBook
from edge.orders.catalog import Catalog, Item, change_problems
from edge.orders.catalog_groups import ModifierGroup
from edge.orders.menu_rules import NOTHING_UNAVAILABLE, Unavailable
from edge.orders.validation import MAX_TEXT

routes = web.RouteTableDef()

SHOWN_PROBLEMS = 3  # what a refused change lists of what it would break
KINDS = {  # the catalog's root map, and what one entry is called
    "items": "item",
    "modifier_groups": "modifier group",
    "categories": "category",
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


def _unavailable(book: OrderBook) -> Unavailable:
    return NOTHING_UNAVAILABLE if book.availability is None else book.availability.now()


def group_rule(group: ModifierGroup) -> str:
    """A group's rules in words: `required, choose 1`, `up to 2, each up to 3 times`."""
    if group.exclusive:
        said = "required, choose 1" if group.required else "optional, choose 1"
    elif group.max is None:
        said = f"at least {group.min}" if group.required else "any number"
    else:
        said = f"{group.min} to {group.max}" if group.required else f"up to {group.max}"
    return said if group.max_each == 1 else f"{said}, each up to {group.max_each} times"


def _priced(price: int, currency: str) -> str:
    return f" (+{format_price(price, currency)})" if price else ""


def _item_row(item: Item, catalog: Catalog, unavailable: Unavailable) -> dict:
    currency = catalog.currency
    span = item.open_price
    mark = unavailable.items.get(item.sku)
    own = item.own_modifiers
    return {
        "sku": item.sku,
        "name": item.name,
        "category": catalog.categories[item.category].name if item.category else "",
        "price": f"open, {format_price(span.min, currency)}–{format_price(span.max, currency)}"
        if span
        else format_price(item.price, currency),
        "tax": catalog.taxes[item.tax].name,
        "station": catalog.stations.get(item.station, "—") if item.station else "—",
        "groups": [group.name for group in item.groups if group.id is not None],
        "modifiers": [f"{m.name}{_priced(m.price, currency)}" for m in own.values()],
        "unavailable": mark,
    }


def _group_row(group: ModifierGroup, catalog: Catalog, unavailable: Unavailable) -> dict:
    return {
        "id": group.id,
        "name": group.name,
        "rule": group_rule(group),
        "form": group_values(group, catalog.currency),
        "modifiers": [
            {
                "code": m.code,
                "name": f"{m.name}{_priced(m.price, catalog.currency)}",
                "unavailable": unavailable.modifiers.get(m.code),
            }
            for m in group.modifiers.values()
        ],
        "used_by": [item.name for item in catalog.items.values() if group in item.groups],
    }


def _own_modifiers(catalog: Catalog, unavailable: Unavailable) -> list[dict]:
    """Modifiers of items' own older-style tables (a code once, whichever items have it)."""
    found: dict[str, dict] = {}
    for item in sorted(catalog.items.values(), key=lambda i: i.name.casefold()):
        for m in item.own_modifiers.values():
            row = found.setdefault(
                m.code,
                {"code": m.code, "name": m.name, "unavailable": unavailable.modifiers.get(m.code),
                 "items": []},
            )  # fmt: skip
            row["items"].append(item.name)
    return [found[code] for code in sorted(found)]


@routes.get("/ui/menu", name="ui_menu")
async def menu_page(request: web.Request) -> web.Response:
    require_user(request, "manager")
    ctx = context(request)
    catalog = await ctx.book.catalog()
    unavailable = _unavailable(ctx.book)
    places = {cid: index for index, cid in enumerate(catalog.categories)}
    ordered = sorted(
        catalog.items.values(),
        key=lambda i: (places.get(i.category, len(places)), i.name.casefold()),
    )
    return render(
        request,
        "menu.html",
        title="Menu",
        items=[_item_row(item, catalog, unavailable) for item in ordered],
        groups=[_group_row(g, catalog, unavailable) for g in catalog.groups.values()],
        own_modifiers=_own_modifiers(catalog, unavailable),
        categories=[category_values(c) for c in catalog.categories.values()],
        new_group=group_values(None, catalog.currency),
        taxes=list(catalog.taxes.values()),
        stations=catalog.stations,
        currency=catalog.currency,
        managed_by_hub=ctx.upstream is not None,
        problems=catalog.problems,
        max_reason=MAX_TEXT,
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
        categories={c.id: c.name for c in catalog.categories.values()},
        groups=_group_choices(catalog, values["modifier_groups"]),
        currency=catalog.currency,
    )


def _group_choices(catalog: Catalog, chosen: list[str]) -> list[dict]:
    """The item form's group checkboxes: those chosen first, in the item's order (the
    order a till asks them in), then the others."""
    first = [g for g in chosen if g in catalog.groups]
    ids = [*first, *[g for g in catalog.groups if g not in first]]
    return [
        {"id": g, "label": f"{catalog.groups[g].name}: {group_rule(catalog.groups[g])}",
         "checked": g in chosen}
        for g in ids
    ]  # fmt: skip


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
        values["modifier_groups"] = [str(g) for g in form.getall("modifier_groups", [])]
        return await _item_page(
            request, existing=existing, values=values, errors=exc.errors, status=400
        )
    if "open_price" in entry:
        span = entry["open_price"]
        price = (f"an open price, {format_price(span['min'], catalog.currency)} to "
                 f"{format_price(span['max'], catalog.currency)}")  # fmt: skip
    else:
        price = format_price(int(entry["price"]), catalog.currency)
    flash(request, f"{'Saved' if existing else 'Added'} ‘{entry['name']}’ at {price} "
          f"{catalog.currency}; every node of the store has it now")  # fmt: skip
    raise see_other("/ui/menu")


@routes.post("/ui/menu/{kind}/save", name="ui_menu_entry_save")
async def save_entry(request: web.Request) -> web.Response:
    """A modifier group, a category, a tax rate or a kitchen station, from the forms on the
    menu page."""
    _editor(request)
    kind = request.match_info["kind"]
    if kind not in ("modifier_groups", "categories", "taxes", "stations"):
        raise web.HTTPNotFound()
    form = await request.post()
    existing = str(form.get("existing", "")) or None
    currency = (await context(request).book.catalog()).currency
    readers = {
        "modifier_groups": lambda: read_group_form(form, currency, existing=existing),
        "categories": lambda: read_category_form(form, existing=existing),
        "taxes": lambda: read_tax_form(form, existing=existing),
        "stations": lambda: read_station_form(form, existing=existing),
    }
    try:
        key, entry = readers[kind]()
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


@routes.post("/ui/menu/availability", name="ui_menu_availability")
async def set_availability(request: web.Request) -> web.Response:
    """86 an item or a modifier store-wide, or bring it back: the store's call, so allowed
    when the hub manages the menu too."""
    user = require_user(request, "manager")
    form = await request.post()
    kind, code = field_text(form, "kind"), field_text(form, "code")
    ctx = context(request)
    catalog = await ctx.book.catalog()
    names = {m.code: m.name for item in catalog.items.values() for m in item.modifiers.values()}
    names |= {m.code: m.name for g in catalog.groups.values() for m in g.modifiers.values()}
    if kind == ITEM_KIND and code in catalog.items:
        name = catalog.items[code].name
    elif kind == MODIFIER_KIND and code in names:
        name = names[code]
    else:
        raise web.HTTPNotFound(reason="No such item or modifier on the menu")
    availability = ctx.book.availability
    if availability is None:
        raise web.HTTPServiceUnavailable(reason="This node keeps no store document")
    if field_text(form, "available") == "yes":
        await availability.clear(kind, code)
        flash(request, f"‘{name}’ is available again on every node of the store")
        raise see_other(f"/ui/menu#{kind}-{code}")
    reason = field_text(form, "reason")[:MAX_TEXT]
    await availability.mark(kind, code, reason=reason, by=user.label, now=ctx.now())
    said = f": {reason}" if reason else ""
    flash(request, f"‘{name}’ is unavailable (86) on every node of the store{said}")
    raise see_other(f"/ui/menu#{kind}-{code}")
