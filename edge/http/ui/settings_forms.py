"""The Settings page's form: the settings a manager changes, to configuration values.
Pure logic.

Each field is named by its setting's key (`store.name`). Only what differs from the file is
written; the loader then checks ranges and pairs (kds.late_after above kds.warn_after,
upstream.url with upstream.token) and names the key, which is the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from edge.config.model import Config
from edge.http.ui.forms import FormErrors, field_text

LABELS = {
    "store.name": "Store name",
    "receipt.header": "Receipt header",
    "receipt.footer": "Receipt footer",
    "store.rollover_hour": "Business day ends at",
    "upstream.url": "Hub address",
    "upstream.token": "Hub token",
    "kds.warn_after": "Kitchen tickets turn amber after",
    "kds.late_after": "Kitchen tickets turn red after",
}


def current_values(config: Config) -> dict[str, object]:
    """The settings of LABELS as `config` has them."""
    return {
        "store.name": config.store.name,
        "receipt.header": list(config.receipt.header),
        "receipt.footer": list(config.receipt.footer),
        "store.rollover_hour": config.store.rollover_hour,
        "upstream.url": config.upstream.url,
        "upstream.token": config.upstream.token,
        "kds.warn_after": config.kds.warn_after,
        "kds.late_after": config.kds.late_after,
    }


def masked(token: str) -> str:
    """A secret as the page shows it: enough to recognise, not to use."""
    return f"{token[:3]}••••••••{token[-4:]}" if len(token) > 12 else "••••••••"


def form_values(config: Config) -> dict[str, str]:
    """The form's fields as text, the token left empty (it is only ever replaced)."""
    values = current_values(config)
    return {
        key: "\n".join(value) if isinstance(value, list) else f"{value:g}"
        if isinstance(value, float) else str(value)
        for key, value in values.items()
    } | {"upstream.token": ""}  # fmt: skip


def read_settings_form(form: Mapping[str, object], config: Config) -> dict[str, object]:
    """The settings the form changes (key → new value, None for back to the default);
    raises FormErrors for a field that is not even the right kind of value."""
    errors: dict[str, str] = {}
    wanted: dict[str, object] = {
        "store.name": field_text(form, "store.name"),
        "receipt.header": _lines(form, "receipt.header"),
        "receipt.footer": _lines(form, "receipt.footer"),
        "upstream.url": field_text(form, "upstream.url"),
    }
    hour = field_text(form, "store.rollover_hour")
    if hour.isdigit():
        wanted["store.rollover_hour"] = int(hour)
    else:
        errors["store.rollover_hour"] = "an hour from 0 to 23"
    for key in ("kds.warn_after", "kds.late_after"):
        try:
            wanted[key] = float(field_text(form, key).replace(",", "."))
        except ValueError:
            errors[key] = "a number of minutes, such as 5 or 7.5"
    token = field_text(form, "upstream.token")
    if form.get("hub.forget"):
        wanted["upstream.url"], wanted["upstream.token"] = "", ""
    elif token:
        wanted["upstream.token"] = token
    if not wanted["store.name"]:
        errors["store.name"] = "the store needs a name (it heads every receipt)"
    if errors:
        raise FormErrors(errors)
    now = current_values(config)
    return {
        key: None if value == "" else value  # an empty list stays: no footer at all
        for key, value in wanted.items()
        if value != now[key]
    }


def _lines(form: Mapping[str, object], key: str) -> list[str]:
    return [line.strip() for line in str(form.get(key, "")).splitlines() if line.strip()]
