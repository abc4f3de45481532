"""The Menu page's forms: an item, a tax rate, a kitchen station, to catalog entries and
back. Pure logic.

Prices are typed as people write them ("12.50") and kept as integer minor units in the
currency's exponent; modifiers are one per line, `CODE | Name | price`. Each form is checked
field by field here; what only the whole catalog can tell (an item whose tax is gone) is
`catalog.change_problems`, the same check HQ's edits at the hub get.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation

from edge.http.ui.forms import FormErrors, field_text
from edge.orders.catalog import Item, Modifier, TaxRate
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


def parse_modifiers(text: str, currency: str) -> dict[str, dict]:
    """Modifier entries from the field's lines; ValueError naming the line that is wrong."""
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
    return found


def read_item_form(
    form: Mapping[str, str], currency: str, *, existing: str | None, taken: Collection[str] = ()
) -> tuple[str, dict]:
    """(sku, item entry) from the item form (a new item's sku not among `taken`); raises
    FormErrors naming every bad field."""
    errors: dict[str, str] = {}
    sku = _code(form, "sku", existing, errors)
    if existing is None and sku in taken:
        errors["sku"] = f"the menu has an item {sku} already"
    entry: dict[str, object] = {"name": _name(form, errors), "tax": field_text(form, "tax")}
    try:
        entry["price"] = parse_price(field_text(form, "price"), currency)
    except ValueError as exc:
        errors["price"] = str(exc)
    if not entry["tax"]:
        errors["tax"] = "choose the tax rate the item is sold at"
    station = field_text(form, "station")
    if station:
        entry["station"] = station
    try:
        entry["modifiers"] = parse_modifiers(str(form.get("modifiers", "")), currency)
    except ValueError as exc:
        errors["modifiers"] = str(exc)
    if errors:
        raise FormErrors(errors)
    return sku, entry


def item_values(item: Item | None, currency: str) -> dict[str, str]:
    """The item form's fields for `item` (None: a new item)."""
    if item is None:
        return {"sku": "", "name": "", "price": "", "tax": "", "station": "", "modifiers": ""}
    return {
        "sku": item.sku,
        "name": item.name,
        "price": format_price(item.price, currency),
        "tax": item.tax,
        "station": item.station or "",
        "modifiers": modifiers_text(item.modifiers, currency),
    }


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
