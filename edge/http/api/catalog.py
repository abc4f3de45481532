"""`/api/v1/catalog`: the store's menu as terminals read it, and what is unavailable for now
("86"): any paired terminal, a kitchen screen too, marks an item or a modifier unavailable
store-wide (`PUT …/availability`, with a reason) and available again (`DELETE`). The mark
is the store's (edge/orders/availability.py), so it takes effect on every node of the store,
and tills see it in the catalog and on the events socket."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.bodies import json_body
from edge.http.context import actor, context
from edge.orders.availability import ITEM_KIND, MODIFIER_KIND, Availability
from edge.orders.book import OrderBook
from edge.orders.catalog import Catalog, Item
from edge.orders.catalog_groups import Modifier, ModifierGroup
from edge.orders.menu_rules import NOTHING_UNAVAILABLE, Mark, Unavailable
from edge.orders.validation import require_text
from edge.runtime.errors import OrderError, UnknownItem

routes = web.RouteTableDef()

ITEM_AVAILABILITY = "/api/v1/catalog/items/{sku}/availability"
MODIFIER_AVAILABILITY = "/api/v1/catalog/modifiers/{code}/availability"


def mark_json(mark: Mark | None) -> dict | None:
    return None if mark is None else {"reason": mark.reason, "by": mark.by, "at": mark.at}


def _modifier_json(modifier: Modifier, unavailable: Unavailable) -> dict:
    mark = unavailable.modifiers.get(modifier.code)
    return {
        "code": modifier.code,
        "name": modifier.name,
        "price": modifier.price,
        "available": mark is None,
        "unavailable": mark_json(mark),
    }


def _group_json(group: ModifierGroup, unavailable: Unavailable) -> dict:
    return {
        "id": group.id,
        "name": group.name,
        "min": group.min,
        "max": group.max,
        "max_each": group.max_each,
        "modifiers": [_modifier_json(m, unavailable) for m in group.modifiers.values()],
    }


def _item_json(item: Item, unavailable: Unavailable) -> dict:
    mark = unavailable.items.get(item.sku)
    price_range = item.open_price
    return {
        "sku": item.sku,
        "name": item.name,
        "price": None if price_range is not None else item.price,
        "open_price": None
        if price_range is None
        else {"min": price_range.min, "max": price_range.max},
        "tax": item.tax,
        "station": item.station,
        "category": item.category,
        "modifier_groups": item.group_ids,
        "modifiers": [
            {**_modifier_json(modifier, unavailable), "group": group.id}
            for group in item.groups
            for modifier in group.modifiers.values()
        ],
        "available": mark is None,
        "unavailable": mark_json(mark),
    }


def catalog_json(catalog: Catalog, unavailable: Unavailable = NOTHING_UNAVAILABLE) -> dict:
    """GET /api/v1/catalog's answer: the catalog, with what is unavailable now."""
    return {
        "currency": catalog.currency,
        "prices_include_tax": catalog.prices_include_tax,
        "taxes": [{"id": t.id, "name": t.name, "rate": t.rate} for t in catalog.taxes.values()],
        "stations": [{"id": key, "name": name} for key, name in catalog.stations.items()],
        "categories": [
            {"id": c.id, "name": c.name, "position": c.position}
            for c in catalog.categories.values()
        ],
        "modifier_groups": [_group_json(g, unavailable) for g in catalog.groups.values()],
        "items": [_item_json(item, unavailable) for item in catalog.items.values()],
    }


def unavailable_json(unavailable: Unavailable) -> dict:
    """Everything unavailable now: the events socket's `availability` message."""
    return {
        "items": [{"sku": sku, **mark_json(m)} for sku, m in unavailable.items.items()],
        "modifiers": [{"code": code, **mark_json(m)} for code, m in unavailable.modifiers.items()],
    }


def _unavailable_now(book: OrderBook) -> Unavailable:
    return NOTHING_UNAVAILABLE if book.availability is None else book.availability.now()


@routes.get("/api/v1/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    book = context(request).book
    return json_response(catalog_json(await book.catalog(), _unavailable_now(book)))


@routes.get("/api/v1/catalog/stations/{station}")
async def get_station_items(request: web.Request) -> web.Response:
    """The items a kitchen station makes, with their modifiers and what is unavailable: a
    kitchen screen's 86 panel (a screen may read this, not the whole catalog)."""
    book = context(request).book
    catalog = await book.catalog()
    station = request.match_info["station"]
    if station not in catalog.stations:
        raise UnknownItem(f"no station {station!r} in the catalog")
    unavailable = _unavailable_now(book)
    items = sorted(
        (item for item in catalog.items.values() if item.station == station),
        key=lambda item: item.name.casefold(),
    )
    return json_response(
        {
            "station": {"id": station, "name": catalog.stations[station]},
            "items": [_item_json(item, unavailable) for item in items],
        }
    )


def _availability(book: OrderBook) -> Availability:
    if book.availability is None:  # a node always has it: only a book without a store has not
        raise OrderError("this node keeps no store document, so nothing can be marked here")
    return book.availability


async def _known(book: OrderBook, kind: str, code: str, *, clearing: bool = False) -> None:
    """Refuse (UnknownItem) an item or modifier the catalog does not have; clearing, one
    marked unavailable too, so that a mark outliving its catalog entry can be cleared."""
    catalog = await book.catalog()
    marked = _unavailable_now(book)
    if kind == ITEM_KIND:
        if code in catalog.items or (clearing and code in marked.items):
            return
        raise UnknownItem(f"no item {code!r} in the catalog")
    offered = any(code in item.modifiers for item in catalog.items.values())
    grouped = catalog.group_holding(code) is not None
    if offered or grouped or (clearing and code in marked.modifiers):
        return
    raise UnknownItem(f"no modifier {code!r} in the catalog")


async def _mark(request: web.Request, kind: str, code: str) -> web.Response:
    body = await json_body(request, optional=("reason",))
    reason = require_text(body.get("reason"), "/reason", optional=True) or ""
    ctx = context(request)
    await _known(ctx.book, kind, code)
    who = actor(request)
    mark = await _availability(ctx.book).mark(
        kind, code, reason=reason, by=who.employee or who.id, now=ctx.now()
    )
    return json_response(_answer(kind, code, mark))


async def _clear(request: web.Request, kind: str, code: str) -> web.Response:
    book = context(request).book
    await _known(book, kind, code, clearing=True)
    await _availability(book).clear(kind, code)
    return json_response(_answer(kind, code, None))


def _answer(kind: str, code: str, mark: Mark | None) -> dict:
    named = {"sku": code} if kind == ITEM_KIND else {"code": code}
    return {**named, "available": mark is None, "unavailable": mark_json(mark)}


@routes.put(ITEM_AVAILABILITY)
async def mark_item_unavailable(request: web.Request) -> web.Response:
    return await _mark(request, ITEM_KIND, request.match_info["sku"])


@routes.delete(ITEM_AVAILABILITY)
async def mark_item_available(request: web.Request) -> web.Response:
    return await _clear(request, ITEM_KIND, request.match_info["sku"])


@routes.put(MODIFIER_AVAILABILITY)
async def mark_modifier_unavailable(request: web.Request) -> web.Response:
    return await _mark(request, MODIFIER_KIND, request.match_info["code"])


@routes.delete(MODIFIER_AVAILABILITY)
async def mark_modifier_available(request: web.Request) -> web.Response:
    return await _clear(request, MODIFIER_KIND, request.match_info["code"])
