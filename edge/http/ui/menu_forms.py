"""The Menu page's forms: an item, a modifier group, a category, a tax rate, a kitchen
station, to catalog entries and back. Pure logic.

Prices are typed as people write them ("12.50") and kept as integer minor units in the
currency's exponent; a group's modifiers (and an item's own, older-style ones) are one per
line, `CODE | Name | price`, listed in that order. Each form is checked field by field here;
what only the whole catalog can tell (an item whose tax or group is gone, a modifier code in
two groups) is `catalog.change_problems`, the same check HQ's edits at the hub get.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation

from edge.http.ui.forms import FormErrors, field_text
from edge.orders.catalog import Item, Modifier, TaxRate
from edge.orders.catalog_groups import Category, ModifierGroup
from edge.orders.money import exponent
from edge.orders.validation import parse_percent

CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
CODE_RULE = "1-32 letters, digits, '.', '-' or '_'"
MAX_NAME = 80
MAX_PRICE = 10_000_000_00


def format_price(minor: int, currency: str) -> str:
    """`1250, "USD"` → `"12.50"`: what the price field shows."""
    digits = exponent(currency)
    major, rest = divmod(minor, 10**digits)
    return f"{major}.{rest:0{digits}d}" if digits else str(major)


def parse_price(text: str, currency: str) -> int:
    """`"12.50"` (or `"12,50"`, `"12"`) → 1250 minor units; ValueError saying what is wrong."""
    digits = exponent(currency)
    try:
        amount = Decimal(text.replace(",", ".").strip())
    except InvalidOperation:
        raise ValueError(f"write a price such as {format_price(1250, currency)}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("a price is zero or more")
    minor = amount * 10**digits
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} has {digits} digits after the point")
    if minor > MAX_PRICE:
        raise ValueError("that price is too high for one item")
    return int(minor)


def _name(form: Mapping[str, str], errors: dict[str, str]) -> str:
    name = field_text(form, "name")
    if not name or len(name) > MAX_NAME or not name.isprintable():
        errors["name"] = f"1-{MAX_NAME} printable characters"
    return name


def _code(form: Mapping[str, str], key: str, existing: str | None, errors: dict) -> str:
    code = existing or field_text(form, key)
    if existing is None and not CODE.fullmatch(code):
        errors[key] = CODE_RULE
    return code


def modifiers_text(modifiers: dict[str, Modifier], currency: str) -> str:
    """The modifiers field's text: one `CODE | Name | price` per line."""
    return "\n".join(
        f"{m.code} | {m.name} | {format_price(m.price, currency)}" for m in modifiers.values()
    )


def parse_modifiers(text: str, currency: str, *, positions: bool = False) -> dict[str, dict]:
    """Modifier entries from the field's lines (with `positions`, each its line's place, so
    that every node lists them in this order); ValueError naming the line that is wrong."""
    found: dict[str, dict] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 2:
            parts.append("0")
        if len(parts) != 3 or not CODE.fullmatch(parts[0]) or not parts[1]:
            raise ValueError(
                f"line {number}: write CODE | Name | price, e.g. BACON | Add bacon | 2.50"
            )
        if parts[0] in found:
            raise ValueError(f"line {number}: {parts[0]} is there twice")
        try:
            price = parse_price(parts[2], currency)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        found[parts[0]] = {"name": parts[1], "price": price}
        if positions:
            found[parts[0]]["position"] = len(found)
    return found


def field_list(form: Mapping[str, object], key: str) -> list[str]:
    """Every value submitted for `key` (checkboxes), in the order the form lists them."""
    values = form.getall(key, []) if hasattr(form, "getall") else form.get(key, [])
    if isinstance(values, str):
        values = [values]
    return [str(value).strip() for value in values if str(value).strip()]


def _open_price(form: Mapping[str, str], currency: str, errors: dict) -> dict | None:
    low, high = field_text(form, "open_min"), field_text(form, "open_max")
    if not low and not high:
        return None
    found = {}
    for key, text in (("open_min", low), ("open_max", high)):
        try:
            found[key] = parse_price(text, currency)
        except ValueError as exc:
            errors[key] = str(exc) if text else "give both ends of the range"
    if len(found) == 2 and found["open_min"] > found["open_max"]:
        errors["open_max"] = "the highest price is below the lowest"
    return {"min": found.get("open_min", 0), "max": found.get("open_max", 0)}


def read_item_form(
    form: Mapping[str, str], currency: str, *, existing: str | None, taken: Collection[str] = ()
) -> tuple[str, dict]:
    """(sku, item entry) from the item form (a new item's sku not among `taken`); raises
    FormErrors naming every bad field. An item with an open price range has no price."""
    errors: dict[str, str] = {}
    sku = _code(form, "sku", existing, errors)
    if existing is None and sku in taken:
        errors["sku"] = f"the menu has an item {sku} already"
    entry: dict[str, object] = {"name": _name(form, errors), "tax": field_text(form, "tax")}
    open_price = _open_price(form, currency, errors)
    if open_price is None:
        try:
            entry["price"] = parse_price(field_text(form, "price"), currency)
        except ValueError as exc:
            errors["price"] = str(exc)
    elif field_text(form, "price"):
        errors["price"] = "leave the price empty: an open-priced item's price is typed at the till"
    else:
        entry["open_price"] = open_price
    if not entry["tax"]:
        errors["tax"] = "choose the tax rate the item is sold at"
    for key in ("station", "category"):
        if value := field_text(form, key):
            entry[key] = value
    if groups := field_list(form, "modifier_groups"):
        entry["modifier_groups"] = list(dict.fromkeys(groups))
    try:
        entry["modifiers"] = parse_modifiers(str(form.get("modifiers", "")), currency)
    except ValueError as exc:
        errors["modifiers"] = str(exc)
    if errors:
        raise FormErrors(errors)
    return sku, entry


def item_values(item: Item | None, currency: str) -> dict:
    """The item form's fields for `item` (None: a new item)."""
    if item is None:
        return {
            "sku": "", "name": "", "price": "", "tax": "", "station": "", "category": "",
            "modifier_groups": [], "open_min": "", "open_max": "", "modifiers": "",
        }  # fmt: skip
    span = item.open_price
    return {
        "sku": item.sku,
        "name": item.name,
        "price": "" if span else format_price(item.price, currency),
        "tax": item.tax,
        "station": item.station or "",
        "category": item.category or "",
        "modifier_groups": item.group_ids,
        "open_min": format_price(span.min, currency) if span else "",
        "open_max": format_price(span.max, currency) if span else "",
        "modifiers": modifiers_text(item.own_modifiers, currency),
    }


def _count(form: Mapping[str, str], key: str, default: str, low: int, errors: dict) -> int | None:
    text = field_text(form, key) or default
    if not text:
        return None
    if not text.isdigit() or int(text) < low:
        errors[key] = f"a whole number, {low} or more" + ("; empty for any" if not default else "")
        return None
    return int(text)


def read_group_form(
    form: Mapping[str, str], currency: str, *, existing: str | None
) -> tuple[str, dict]:
    """(group id, modifier group entry) from the group form; raises FormErrors. An empty
    `max` is no maximum; `min` 1 or more makes the group required, `max` 1 exclusive."""
    errors: dict[str, str] = {}
    group_id = _code(form, "id", existing, errors)
    entry: dict[str, object] = {"name": _name(form, errors)}
    low = _count(form, "min", "0", 0, errors)
    high = _count(form, "max", "", 1, errors)
    entry["min"] = low or 0
    if high is not None:
        entry["max"] = high
        if low is not None and low > high:
            errors["max"] = f"at least the minimum ({low})"
    entry["max_each"] = _count(form, "max_each", "1", 1, errors) or 1
    try:
        modifiers = parse_modifiers(str(form.get("modifiers", "")), currency, positions=True)
    except ValueError as exc:
        errors["modifiers"] = str(exc)
    else:
        if not modifiers:
            errors["modifiers"] = "give the group its modifiers, one per line"
        entry["modifiers"] = modifiers
    if errors:
        raise FormErrors(errors)
    return group_id, entry


def group_values(group: ModifierGroup | None, currency: str) -> dict[str, str]:
    """The group form's fields for `group` (None: a new group)."""
    if group is None:
        return {"id": "", "name": "", "min": "0", "max": "", "max_each": "1", "modifiers": ""}
    return {
        "id": group.id or "",
        "name": group.name,
        "min": str(group.min),
        "max": "" if group.max is None else str(group.max),
        "max_each": str(group.max_each),
        "modifiers": modifiers_text(group.modifiers, currency),
    }


def read_category_form(form: Mapping[str, str], *, existing: str | None) -> tuple[str, dict]:
    """(category id, category entry) from the category form; raises FormErrors."""
    errors: dict[str, str] = {}
    category_id = _code(form, "id", existing, errors)
    name = _name(form, errors)
    position = _count(form, "position", "0", 0, errors)
    if errors:
        raise FormErrors(errors)
    return category_id, {"name": name, "position": position or 0}


def category_values(category: Category) -> dict[str, str]:
    return {"id": category.id, "name": category.name, "position": str(category.position)}


def read_tax_form(form: Mapping[str, str], *, existing: str | None) -> tuple[str, dict]:
    """(tax id, tax entry) from the tax form; raises FormErrors."""
    errors: dict[str, str] = {}
    tax_id = _code(form, "id", existing, errors)
    name = _name(form, errors)
    rate = field_text(form, "rate").removesuffix("%").strip()
    try:
        if not 0 <= parse_percent(rate) < 100:
            raise ValueError
    except ValueError:
        errors["rate"] = 'a percent from 0 to under 100, such as "8.875"'
    if errors:
        raise FormErrors(errors)
    return tax_id, {"name": name, "rate": rate}


def tax_values(tax: TaxRate) -> dict[str, str]:
    return {"id": tax.id, "name": tax.name, "rate": tax.rate}


def read_station_form(form: Mapping[str, str], *, existing: str | None) -> tuple[str, dict]:
    """(station id, station entry) from the station form; raises FormErrors."""
    errors: dict[str, str] = {}
    station_id = _code(form, "id", existing, errors)
    name = _name(form, errors)
    if errors:
        raise FormErrors(errors)
    return station_id, {"name": name}
