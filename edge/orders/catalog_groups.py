"""The parts of a catalog entry beyond an item's own fields: categories, modifier groups,
an item's old-style `modifiers` table and open prices. Pure parsing.

Each `parse_*` returns what it read or raises ValueError saying what is wrong; catalog.py
turns that into a problem naming the entry, and leaves the entry out. Numbers come back
from a Yjs map as floats, so every count and amount is checked to be integral.

Yjs keeps no order of the keys of a map written as a plain value (an entry's `modifiers`
table), so every node lists a group's modifiers by their `position` and then their code,
and the categories by theirs and then their id: the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.orders.validation import MAX_AMOUNT


@dataclass(frozen=True, slots=True)
class Modifier:
    code: str
    name: str
    price: int
    position: int = 0


@dataclass(frozen=True, slots=True)
class ModifierGroup:
    """Modifiers chosen together on a unit of an item: at least `min` and at most `max`
    (None: any number) of them counted with their quantities, each at most `max_each`.

    `id` is None for an item's own old-style `modifiers` table, read as a group with no
    minimum, any number of its modifiers, each at most once."""

    id: str | None
    name: str
    min: int
    max: int | None
    max_each: int
    modifiers: dict[str, Modifier]

    @property
    def required(self) -> bool:
        return self.min >= 1

    @property
    def exclusive(self) -> bool:
        return self.max == 1

    def label(self) -> str:
        """How a refusal names the group: `Doneness (group 'doneness')`."""
        if self.id is None:
            return "its own modifiers"
        return f"{self.name} (group {self.id!r})"


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class PriceRange:
    """An open-price item's price, given on each line: from `min` to `max` minor units."""

    min: int
    max: int


def money(value: object, where: str) -> int:
    """An amount in minor units: integral, not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{where} must be an integer number of minor units, not {value!r}")
    if value < 0:
        raise ValueError(f"{where} cannot be negative")
    return int(value)


def text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string")
    return value


def count(value: object, where: str, low: int) -> int:
    """A whole number of at least `low`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{where} must be a whole number, not {value!r}")
    if value < low:
        raise ValueError(f"{where} must be at least {low}, not {int(value)}")
    return int(value)


def _table(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table, not {value!r}")
    return value


def parse_modifiers(table: object, where: str = "modifiers") -> dict[str, Modifier]:
    """A table of code → {name, price, position}, in the order every node lists it."""
    found = []
    for code, entry in _table(table or {}, where).items():
        entry = _table(entry, f"{where}.{code}")
        found.append(
            Modifier(
                code,
                text(entry.get("name", code), f"{where}.{code}.name"),
                money(entry.get("price", 0), f"{where}.{code}.price"),
                count(entry.get("position", 0), f"{where}.{code}.position", 0),
            )
        )
    found.sort(key=lambda m: (m.position, m.code))
    return {m.code: m for m in found}


def parse_group(group_id: str, entry: object) -> ModifierGroup:
    """A modifier group: {name, min, max, max_each, modifiers}; min 0, no max and
    max_each 1 unless given. Refused when its rules cannot all hold."""
    entry = _table(entry, "a modifier group")
    low = count(entry.get("min", 0), "min", 0)
    high = entry.get("max")
    high = None if high is None else count(high, "max", 1)
    each = count(entry.get("max_each", 1), "max_each", 1)
    if high is not None and low > high:
        raise ValueError(f"min {low} is more than max {high}")
    modifiers = parse_modifiers(entry.get("modifiers"))
    if low > len(modifiers) * each:
        raise ValueError(
            f"min {low} cannot be met: {len(modifiers)} modifiers, each at most {each} times"
        )
    return ModifierGroup(
        group_id, text(entry.get("name", group_id), "name"), low, high, each, modifiers
    )


def own_group(table: object) -> ModifierGroup | None:
    """An item's old-style `modifiers` table as a group (None when it has none)."""
    modifiers = parse_modifiers(table)
    if not modifiers:
        return None
    return ModifierGroup(None, "Modifiers", 0, None, 1, modifiers)


def parse_category(category_id: str, entry: object) -> Category:
    entry = _table(entry, "a category")
    return Category(
        category_id,
        text(entry.get("name", category_id), "name"),
        count(entry.get("position", 0), "position", 0),
    )


def parse_open_price(value: object) -> PriceRange:
    """An open price range {min, max}, in minor units, with min <= max and max > 0."""
    rule = "open_price must be a range {min, max} in minor units with min <= max"
    if not isinstance(value, dict) or set(value) != {"min", "max"}:
        raise ValueError(f"{rule}, not {value!r}")
    low = money(value["min"], "open_price.min")
    high = money(value["max"], "open_price.max")
    if low > high or high == 0 or high > MAX_AMOUNT:
        raise ValueError(f"{rule} (and max from 1 to {MAX_AMOUNT}), not {low}..{high}")
    return PriceRange(low, high)


def unique_codes(groups: dict[str, ModifierGroup]) -> tuple[dict[str, ModifierGroup], list]:
    """The groups whose modifier codes no other group holds, and (group id, problem) for
    each of the others: two groups holding one code are both left out, each named."""
    owners: dict[str, list[str]] = {}
    for group_id in sorted(groups):
        for code in groups[group_id].modifiers:
            owners.setdefault(code, []).append(group_id)
    kept: dict[str, ModifierGroup] = {}
    refused = []
    for group_id, group in groups.items():
        shared = next((code for code in group.modifiers if len(owners[code]) > 1), None)
        if shared is None:
            kept[group_id] = group
            continue
        other = next(owner for owner in owners[shared] if owner != group_id)
        refused.append(
            (
                group_id,
                f"modifier {shared} is in group {other!r} too: a modifier code names one "
                "modifier of one group",
            )
        )
    return kept, sorted(refused)
