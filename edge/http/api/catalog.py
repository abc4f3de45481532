"""`/api/v1/catalog`: the store's menu as terminals read it."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.context import context
from edge.orders.catalog import Catalog

routes = web.RouteTableDef()


def catalog_json(catalog: Catalog) -> dict:
    return {
        "currency": catalog.currency,
        "prices_include_tax": catalog.prices_include_tax,
        "taxes": [{"id": t.id, "name": t.name, "rate": t.rate} for t in catalog.taxes.values()],
        "stations": [{"id": key, "name": name} for key, name in catalog.stations.items()],
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "price": item.price,
                "tax": item.tax,
                "station": item.station,
                "modifiers": [
                    {"code": m.code, "name": m.name, "price": m.price}
                    for m in item.modifiers.values()
                ],
            }
            for item in catalog.items.values()
        ],
    }


@routes.get("/api/v1/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    return json_response(catalog_json(await context(request).book.catalog()))
