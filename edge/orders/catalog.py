"""The catalog: items, prices, tax rates, kitchen stations and modifiers.

It lives in the CRDT document `<store_id>/catalog` (edited at the hub or in the manager UI,
flowing down to every node) with four root maps: `items` (sku → item), `taxes`
(id → {name, rate}), `stations` (id → {name}) and `settings` (currency,
prices_include_tax). Each entry is a plain value replaced whole when edited.

Parsing is pure; an entry that does not parse is left out and reported, never fatal, since
a catalog can come from a hub or a peer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources

from pycrdt import Doc, Map

from edge.orders.validation import parse_percent

CATALOG_ROOTS = ("items", "taxes", "stations", "settings")


@dataclass(frozen=True, slots=True)
class Modifier:
    code: str
    name: str
    price: int


@dataclass(frozen=True, slots=True)
class TaxRate:
    id: str
    name: str
    rate: str  # percent as a decimal string, e.g. "8.875"


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    name: str
    price: int
    tax: str
    station: str | None
    modifiers: dict[str, Modifier]


@dataclass(frozen=True, slots=True)
class Catalog:
    """A parsed catalog; `problems` lists the entries that were left out and why."""

    items: dict[str, Item]
    taxes: dict[str, TaxRate]
    stations: dict[str, str]
    currency: str
    prices_include_tax: bool
    problems: list[str] = field(default_factory=list)


def _money(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{where} must be an integer number of minor units, not {value!r}")
    if value < 0:
        raise ValueError(f"{where} cannot be negative")
    return int(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string")
    return value


def _rate(value: object, where: str) -> str:
    try:
        rate = parse_percent(str(value))
    except ValueError:
        raise ValueError(f'{where} must be a percent such as "8.875", not {value!r}') from None
    if rate >= 100:
        raise ValueError(f"{where} must be a percent between 0 and 100, not {value!r}")
    return str(rate)


def parse_catalog(data: dict) -> Catalog:
    """A Catalog from the catalog doc's plain contents (or the same shape from TOML)."""
    problems: list[str] = []
    settings = data.get("settings") or {}
    currency = settings.get("currency", "USD")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        problems.append(f"settings.currency: not an ISO 4217 code: {currency!r}; using USD")
        currency = "USD"
    include = settings.get("prices_include_tax", False)
    if not isinstance(include, bool):
        problems.append("settings.prices_include_tax: must be true or false; using false")
        include = False

    taxes: dict[str, TaxRate] = {}
    for tax_id, entry in (data.get("taxes") or {}).items():
        try:
            taxes[tax_id] = TaxRate(
                tax_id, _text(entry.get("name", tax_id), "name"), _rate(entry.get("rate"), "rate")
            )
        except (ValueError, AttributeError) as exc:
            problems.append(f"taxes.{tax_id}: {exc}")

    stations: dict[str, str] = {}
    for station_id, entry in (data.get("stations") or {}).items():
        name = entry.get("name", station_id) if isinstance(entry, dict) else station_id
        stations[station_id] = str(name)

    items: dict[str, Item] = {}
    for sku, entry in (data.get("items") or {}).items():
        try:
            items[sku] = _parse_item(sku, entry, taxes, stations)
        except (ValueError, AttributeError) as exc:
            problems.append(f"items.{sku}: {exc}")
    return Catalog(items, taxes, stations, currency.upper(), include, problems)


def _parse_item(sku: str, entry: dict, taxes: dict, stations: dict) -> Item:
    tax = entry.get("tax")
    if tax not in taxes:
        raise ValueError(f"tax {tax!r} is not one of the catalog's taxes {sorted(taxes)}")
    station = entry.get("station")
    if station is not None and station not in stations:
        raise ValueError(f"station {station!r} is not one of {sorted(stations)}")
    modifiers = {}
    for code, mod in (entry.get("modifiers") or {}).items():
        modifiers[code] = Modifier(
            code,
            _text(mod.get("name", code), f"modifiers.{code}.name"),
            _money(mod.get("price", 0), f"modifiers.{code}.price"),
        )
    return Item(
        sku=sku,
        name=_text(entry.get("name"), "name"),
        price=_money(entry.get("price"), "price"),
        tax=tax,
        station=station,
        modifiers=modifiers,
    )


def catalog_contents(doc: Doc) -> dict:
    """The catalog document's plain contents, root by root."""
    return {root: doc.get(root, type=Map).to_py() or {} for root in CATALOG_ROOTS}


def read_catalog(doc: Doc) -> Catalog:
    """Parse the live catalog document."""
    return parse_catalog(catalog_contents(doc))


def write_catalog(doc: Doc, data: dict) -> None:
    """Write catalog entries (the shape of the sample TOML) into the catalog doc.

    Call inside a transaction; existing entries with the same keys are replaced.
    """
    for root in CATALOG_ROOTS:
        target = doc.get(root, type=Map)
        for key, value in (data.get(root) or {}).items():
            target[key] = value


def remove_entries(doc: Doc, removed: dict[str, list[str]]) -> None:
    """Remove catalog entries (root → keys) from the catalog doc; call inside a transaction."""
    for root, keys in removed.items():
        target = doc.get(root, type=Map)
        for key in keys:
            if key in target:
                del target[key]


def change_problems(
    current: dict, patch: dict, removed: dict[str, list[str]] | None = None
) -> list[str]:
    """What writing `patch` (entries replacing those of the same key) and removing `removed`
    would break in the catalog `current`: the problems the result has that `current` has not.

    HQ's edits at the hub and the manager UI's are checked alike, so neither can leave an
    item pointing at a tax or station that is gone, or a price that is not a price.
    """
    merged = {root: {**current.get(root, {}), **(patch.get(root) or {})} for root in CATALOG_ROOTS}
    for root, keys in (removed or {}).items():
        for key in keys:
            merged[root].pop(key, None)
    before = set(parse_catalog(current).problems)
    return [problem for problem in parse_catalog(merged).problems if problem not in before]


def sample_catalog() -> dict:
    """The demo store's catalog, as shipped in `edge/orders/sample_catalog.toml`."""
    text = resources.files("edge.orders").joinpath("sample_catalog.toml").read_text("utf-8")
    return tomllib.loads(text)
