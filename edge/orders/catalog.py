"""The catalog: items, prices, tax rates, kitchen stations, categories and modifier groups.

It lives in the CRDT document `<store_id>/catalog` (edited at the hub or in the manager UI,
flowing down to every node) with six root maps: `items` (sku → item), `taxes`
(id → {name, rate}), `stations` (id → {name}), `categories` (id → {name, position}),
`modifier_groups` (id → {name, min, max, max_each, modifiers}) and `settings` (currency,
prices_include_tax). Each entry is a plain value replaced whole when edited. An item names
its `category`, the `modifier_groups` it offers in order, and either a `price` or an
`open_price` range; an item's own old-style `modifiers` table still reads, as one more
group of it (catalog_groups.py). What is unavailable for now ("86") is not the catalog's:
it is the store's, in the store document (availability.py).

Parsing is pure; an entry that does not parse is left out and reported, never fatal, since
a catalog can come from a hub or a peer.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from pycrdt import Doc, Map

from edge.orders.catalog_groups import (
    Category,
    Modifier,
    ModifierGroup,
    PriceRange,
    money,
    own_group,
    parse_category,
    parse_group,
    parse_open_price,
    text,
    unique_codes,
)
from edge.orders.validation import parse_percent

CATALOG_ROOTS = ("items", "taxes", "stations", "settings", "categories", "modifier_groups")


@dataclass(frozen=True, slots=True)
class TaxRate:
    id: str
    name: str
    rate: str  # percent as a decimal string, e.g. "8.875"


@dataclass(frozen=True, slots=True)
class Item:
    """An item: `price` (0 for an open-price item, which takes its price from each line
    within `open_price`), and `groups`, the modifier groups it offers in order (its own
    old-style table last); `modifiers` is every modifier of them, by code."""

    sku: str
    name: str
    price: int
    tax: str
    station: str | None
    modifiers: dict[str, Modifier]
    category: str | None = None
    groups: tuple[ModifierGroup, ...] = ()
    open_price: PriceRange | None = None

    def group_of(self, code: str) -> ModifierGroup | None:
        """The group of this item that offers modifier `code`, or None."""
        return next((group for group in self.groups if code in group.modifiers), None)

    @property
    def group_ids(self) -> list[str]:
        """The catalog's groups it offers, as its entry names them."""
        return [group.id for group in self.groups if group.id is not None]

    @property
    def own_modifiers(self) -> dict[str, Modifier]:
        """Its own old-style `modifiers` table ({} when it has none)."""
        own = next((group for group in self.groups if group.id is None), None)
        return dict(own.modifiers) if own is not None else {}


@dataclass(frozen=True, slots=True)
class Catalog:
    """A parsed catalog; `problems` lists the entries that were left out and why."""

    items: dict[str, Item]
    taxes: dict[str, TaxRate]
    stations: dict[str, str]
    currency: str
    prices_include_tax: bool
    problems: list[str] = field(default_factory=list)
    categories: dict[str, Category] = field(default_factory=dict)  # in their positions
    groups: dict[str, ModifierGroup] = field(default_factory=dict)  # by id, sorted

    def group_holding(self, code: str) -> ModifierGroup | None:
        """The catalog's modifier group holding modifier `code`, or None."""
        return next((group for group in self.groups.values() if code in group.modifiers), None)


def _rate(value: object, where: str) -> str:
    try:
        rate = parse_percent(str(value))
    except ValueError:
        raise ValueError(f'{where} must be a percent such as "8.875", not {value!r}') from None
    if rate >= 100:
        raise ValueError(f"{where} must be a percent between 0 and 100, not {value!r}")
    return str(rate)


def _entries(data: dict, root: str, problems: list[str]) -> dict:
    """The entries of one root map (a root that is not a table is reported, and empty)."""
    entries = data.get(root) or {}
    if not isinstance(entries, dict):
        problems.append(f"{root}: must be a table of entries, not {type(entries).__name__}")
        return {}
    return entries


def parse_catalog(data: dict) -> Catalog:
    """A Catalog from the catalog doc's plain contents (or the same shape from TOML)."""
    problems: list[str] = []
    settings = _entries(data, "settings", problems)
    currency = settings.get("currency", "USD")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        problems.append(f"settings.currency: not an ISO 4217 code: {currency!r}; using USD")
        currency = "USD"
    include = settings.get("prices_include_tax", False)
    if not isinstance(include, bool):
        problems.append("settings.prices_include_tax: must be true or false; using false")
        include = False

    taxes: dict[str, TaxRate] = {}
    for tax_id, entry in _entries(data, "taxes", problems).items():
        try:
            taxes[tax_id] = TaxRate(
                tax_id, text(entry.get("name", tax_id), "name"), _rate(entry.get("rate"), "rate")
            )
        except (ValueError, AttributeError) as exc:
            problems.append(f"taxes.{tax_id}: {exc}")

    stations: dict[str, str] = {}
    for station_id, entry in _entries(data, "stations", problems).items():
        name = entry.get("name", station_id) if isinstance(entry, dict) else station_id
        stations[station_id] = str(name)

    categories = _parsed(data, "categories", parse_category, problems)
    ordered = sorted(categories.values(), key=lambda c: (c.position, c.id))
    groups, refused = unique_codes(_parsed(data, "modifier_groups", parse_group, problems))
    problems += [f"modifier_groups.{group_id}: {problem}" for group_id, problem in refused]
    groups = dict(sorted(groups.items()))

    items: dict[str, Item] = {}
    for sku, entry in _entries(data, "items", problems).items():
        try:
            items[sku] = _parse_item(sku, entry, taxes, stations, categories, groups)
        except (ValueError, AttributeError) as exc:
            problems.append(f"items.{sku}: {exc}")
    return Catalog(
        items,
        taxes,
        stations,
        currency.upper(),
        include,
        problems,
        {category.id: category for category in ordered},
        groups,
    )


def _parsed(
    data: dict, root: str, parse: Callable[[str, object], object], problems: list[str]
) -> dict:
    """Each entry of `root` that `parse(key, entry)` reads; the others reported."""
    parsed = {}
    for key, entry in _entries(data, root, problems).items():
        try:
            parsed[key] = parse(key, entry)
        except ValueError as exc:
            problems.append(f"{root}.{key}: {exc}")
    return parsed


def _parse_item(
    sku: str,
    entry: dict,
    taxes: dict,
    stations: dict,
    categories: dict[str, Category],
    groups: dict[str, ModifierGroup],
) -> Item:
    tax = entry.get("tax")
    if tax not in taxes:
        raise ValueError(f"tax {tax!r} is not one of the catalog's taxes {sorted(taxes)}")
    station = entry.get("station")
    if station is not None and station not in stations:
        raise ValueError(f"station {station!r} is not one of {sorted(stations)}")
    category = entry.get("category")
    if category is not None and category not in categories:
        raise ValueError(f"category {category!r} is not in the catalog (or was left out)")
    offered = _offered_groups(entry.get("modifier_groups"), groups)
    own = own_group(entry.get("modifiers"))
    if own is not None:
        for group in offered:
            clash = next((code for code in own.modifiers if code in group.modifiers), None)
            if clash is not None:
                raise ValueError(
                    f"modifier {clash} is in its own modifiers and in group {group.id!r}"
                )
        offered.append(own)
    open_price = None
    if entry.get("open_price") is not None:
        open_price = parse_open_price(entry["open_price"])
        if entry.get("price") is not None:
            raise ValueError("an open-priced item takes its price from each line: leave out price")
        price = 0
    else:
        price = money(entry.get("price"), "price")
    return Item(
        sku=sku,
        name=text(entry.get("name"), "name"),
        price=price,
        tax=tax,
        station=station,
        modifiers={code: m for group in offered for code, m in group.modifiers.items()},
        category=category,
        groups=tuple(offered),
        open_price=open_price,
    )


def _offered_groups(names: object, groups: dict[str, ModifierGroup]) -> list[ModifierGroup]:
    """The groups an item's `modifier_groups` names, in its order."""
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"modifier_groups must be a list of group ids, not {names!r}")
    offered = []
    for name in names:
        if name not in groups:
            raise ValueError(f"modifier group {name!r} is not in the catalog (or was left out)")
        if groups[name] in offered:
            raise ValueError(f"modifier group {name!r} is named twice")
        offered.append(groups[name])
    return offered


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

    HQ's edits at the hub, the manager UI's and `posedge catalog --import` are checked
    alike, so none can leave an item pointing at a tax, station, category or modifier group
    that is gone, a group whose rules cannot hold, a modifier code in two groups, or a price
    that is not a price.
    """
    malformed = [
        f"{root}: must be a table of entries, not {type(patch[root]).__name__}"
        for root in CATALOG_ROOTS
        if patch.get(root) is not None and not isinstance(patch[root], dict)
    ]
    if malformed:
        return malformed
    merged = {root: {**current.get(root, {}), **(patch.get(root) or {})} for root in CATALOG_ROOTS}
    for root, keys in (removed or {}).items():
        for key in keys:
            merged[root].pop(key, None)
    before = set(parse_catalog(current).problems)
    return [problem for problem in parse_catalog(merged).problems if problem not in before]


def sample_catalog() -> dict:
    """The demo store's catalog, as shipped in `edge/orders/sample_catalog.toml`."""
    toml = resources.files("edge.orders").joinpath("sample_catalog.toml").read_text("utf-8")
    return tomllib.loads(toml)
