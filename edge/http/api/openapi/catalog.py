"""The OpenAPI description of the catalog (edge/http/api/catalog.py): categories, modifier
groups, items with their groups and open prices, and what is unavailable for now ("86")."""

from __future__ import annotations

from edge.http.api.openapi.operations import answer, operation, path_param
from edge.http.api.openapi.schemas import (
    DECIMAL,
    INSTANT,
    TEXT,
    array,
    closed,
    money,
    nullable,
    ref,
    string,
)
from edge.orders.menu_rules import MAX_MODIFIER_QTY
from edge.orders.validation import MAX_AMOUNT

ITEM_AVAILABILITY = "/api/v1/catalog/items/{sku}/availability"
MODIFIER_AVAILABILITY = "/api/v1/catalog/modifiers/{code}/availability"

_MARK = closed(
    {
        "reason": string("why, as the one who marked it said (may be empty)"),
        "by": string("who marked it: the employee, or the terminal, as `name (id)`"),
        "at": INSTANT,
    },
    description="why an item or modifier is unavailable, who said so and when",
)
_NAMED = {"id": string(""), "name": string("")}
_MODIFIER = {
    "code": string("the modifier's code: a line names it so"),
    "name": string(""),
    "price": money("the price of one"),
    "available": {"type": "boolean", "description": "false while it is 86'd store-wide"},
    "unavailable": {"oneOf": [ref("UnavailableMark"), {"type": "null"}]},
}


def _availability_answer(key: str) -> dict:
    return closed(
        {
            key: string(""),
            "available": {"type": "boolean"},
            "unavailable": {"oneOf": [ref("UnavailableMark"), {"type": "null"}]},
        }
    )


CATALOG_SCHEMAS = {
    "LineModifier": {
        "oneOf": [
            string("a modifier code"),
            closed(
                {
                    "code": string("a modifier code"),
                    "qty": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_MODIFIER_QTY,
                        "default": 1,
                        "description": "how many of it on each unit",
                    },
                },
                required=("code",),
            ),
        ],
        "description": "a modifier a new line takes, by the rules of the item's groups",
    },
    "UnavailableMark": _MARK,
    "UnavailableItem": closed({"sku": string(""), **_MARK["properties"]}),
    "UnavailableModifier": closed({"code": string(""), **_MARK["properties"]}),
    "ModifierGroup": closed(
        {
            **_NAMED,
            "min": {"type": "integer", "minimum": 0, "description": "1 or more: required"},
            "max": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "the most of the group on one unit (1: choose one); null: any",
            },
            "max_each": {"type": "integer", "minimum": 1, "description": "of one modifier"},
            "modifiers": array(closed(_MODIFIER)),
        },
        description="modifiers chosen together, counted with their quantities",
    ),
    "Catalog": closed(
        {
            "currency": string("ISO 4217 code"),
            "prices_include_tax": {"type": "boolean"},
            "taxes": array(closed({**_NAMED, "rate": DECIMAL})),
            "stations": array(closed(_NAMED)),
            "categories": array(closed({**_NAMED, "position": {"type": "integer", "minimum": 0}})),
            "modifier_groups": array(ref("ModifierGroup")),
            "items": array(ref("CatalogItem")),
        }
    ),
    "CatalogItem": closed(
        {
            "sku": string(""),
            "name": string(""),
            "price": nullable(money("null: open-priced, see open_price")),
            "open_price": {
                "oneOf": [
                    closed({"min": money(), "max": money(high=MAX_AMOUNT)}),
                    {"type": "null"},
                ],
                "description": "a line of it gives its price, within this range",
            },
            "tax": string("tax id"),
            "station": nullable(string("station id")),
            "category": nullable(string("category id")),
            "modifier_groups": array(string("group id: the groups it offers, in order")),
            "modifiers": array(
                closed(
                    {
                        **_MODIFIER,
                        "group": nullable(string("its group; null: the item's own table")),
                    }
                )
            )
            | {"description": "every modifier it offers, group by group"},
            "available": {"type": "boolean", "description": "false while it is 86'd"},
            "unavailable": {"oneOf": [ref("UnavailableMark"), {"type": "null"}]},
        }
    ),
    "MarkUnavailable": closed(
        {"reason": nullable(TEXT)},
        required=(),
        description='why, e.g. {"reason": "out of buns"}; or no body',
    ),
    "ItemAvailability": _availability_answer("sku"),
    "ModifierAvailability": _availability_answer("code"),
}


def _availability_paths(what: str, param: dict, answer_schema: str) -> dict:
    noun = param["name"]
    return {
        "put": operation(
            f"mark_{what}_unavailable",
            f"Mark a{'n' if what == 'item' else ''} {what} unavailable store-wide (86)",
            "catalog",
            {"200": answer(f"the {what} is unavailable now", ref(answer_schema))},
            problems=("unknown-item", "order-error", "store-unavailable"),
            body="MarkUnavailable",
            params=(param,),
            schemas=CATALOG_SCHEMAS,
            kds=True,
        ),
        "delete": operation(
            f"mark_{what}_available",
            f"Make a{'n' if what == 'item' else ''} {what} available again",
            "catalog",
            {"200": answer(f"the {what} is available now", ref(answer_schema))},
            problems=("unknown-item", "order-error", "store-unavailable"),
            params=(param,),
            kds=True,
            description=f"Clearing a {noun} that is available already changes nothing.",
        ),
    }


def catalog_paths() -> dict[str, dict]:
    """The catalog, and marking its items and modifiers unavailable and available."""
    return {
        "/api/v1/catalog": {
            "get": operation(
                "get_catalog",
                "Categories, modifier groups, items, taxes and stations, with what is 86'd",
                "catalog",
                {"200": answer("the catalog", ref("Catalog"))},
                problems=("store-unavailable",),
            )
        },
        "/api/v1/catalog/stations/{station}": {
            "get": operation(
                "get_station_items",
                "The items a kitchen station makes, with what is 86'd: a screen's 86 panel",
                "catalog",
                {
                    "200": answer(
                        "the station and its items",
                        closed(
                            {
                                "station": closed({"id": string(""), "name": string("")}),
                                "items": array(ref("CatalogItem")),
                            }
                        ),
                    )
                },
                problems=("unknown-item", "store-unavailable"),
                params=(path_param("station", "a station's id in the catalog"),),
                kds=True,
            )
        },
        ITEM_AVAILABILITY: _availability_paths(
            "item",
            path_param("sku", "an item's sku in the catalog"),
            "ItemAvailability",
        ),
        MODIFIER_AVAILABILITY: _availability_paths(
            "modifier",
            path_param("code", "a modifier's code in the catalog"),
            "ModifierAvailability",
        ),
    }
