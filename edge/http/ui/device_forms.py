"""The Devices page's add and edit form: its fields to a `[devices.<id>]` table and back.
Pure logic.

A form is checked field by field before anything is written (the device URL with the
drivers' own parser, so the error says which part is wrong); what only the whole file can
tell (a backup printer that does not exist) comes back from the configuration loader as a
ConfigError, which `field_of` maps to the field it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from drivers.device_url import parse_device_url
from drivers.errors import BadDeviceUrl
from edge.config.devices import DEVICE_ID
from edge.http.ui.forms import FormErrors, field_text
from edge.http.ui.node_health import DEVICE_KINDS
from edge.runtime.errors import ConfigError

KIND_LABELS = {**DEVICE_KINDS, "bump_bar": "Bump bar (kitchen station)"}
WIDTHS = {"48": "80 mm paper (48 columns)", "42": "80 mm, large font (42)", "32": "58 mm (32)"}
URL_EXAMPLES = {
    "printer": "tcp://192.168.1.31:9100",
    "drawer": "serial:///dev/ttyUSB0?baudrate=9600",
    "display": "serial:///dev/ttyUSB1?baudrate=9600",
    "bump_bar": "serial:///dev/ttyUSB2?baudrate=9600",
}
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """What a valid form asks for: the table's keys (None removes one) and, for a printer,
    the stations it prints for."""

    device_id: str
    kind: str
    values: dict[str, object]
    stations: list[str] | None

    @property
    def name(self) -> str:
        return str(self.values["name"])


def read_device_form(
    form: Mapping[str, str], stations: list[str], *, existing: str | None
) -> DeviceChange:
    """The change a submitted form asks for; raises FormErrors naming every bad field.

    `form.getall("stations")` is expected as `stations`; `existing` is the id of the device
    being edited (None when adding one).
    """
    errors: dict[str, str] = {}
    device_id = existing or field_text(form, "id")
    kind = field_text(form, "kind")
    if kind not in KIND_LABELS:
        raise FormErrors({"kind": f"choose one of: {', '.join(KIND_LABELS.values())}"})
    if existing is None and not DEVICE_ID.fullmatch(device_id):
        errors["id"] = "1-32 lowercase letters, digits, - or _, starting with a letter or digit"
    name = field_text(form, "name") or device_id.replace("_", " ").replace("-", " ").capitalize()
    if len(name) > MAX_NAME or not name.isprintable():
        errors["name"] = f"at most {MAX_NAME} printable characters"
    values: dict[str, object] = {"kind": kind, "name": name}
    url = field_text(form, "url")
    if kind == "drawer" and field_text(form, "printer"):
        values |= {"printer": field_text(form, "printer"), "url": None, "open_byte": None}
        url = ""
    elif kind == "drawer":
        values["printer"] = None
    if url or kind != "drawer":
        try:
            values["url"] = parse_device_url(url).text
        except BadDeviceUrl as exc:
            example = f" (e.g. {URL_EXAMPLES[kind]})" if "e.g." not in exc.reason else ""
            errors["url"] = exc.reason + example
    _KIND_FIELDS[kind](form, values, errors)
    if errors:
        raise FormErrors(errors)
    return DeviceChange(
        device_id, kind, values, sorted(set(stations)) if kind == "printer" else None
    )


def _printer_fields(form: Mapping[str, str], values: dict, errors: dict) -> None:
    width = field_text(form, "width") or "48"
    if width not in WIDTHS:
        errors["width"] = "choose one of the paper widths"
    else:
        values["width"] = int(width)
    values["backup"] = field_text(form, "backup") or None


def _drawer_fields(form: Mapping[str, str], values: dict, errors: dict) -> None:
    if "printer" not in values or values["printer"] is None:
        if "url" not in values and "url" not in errors:
            errors["url"] = "give the drawer's serial port, or choose the printer it hangs on"
    pin = field_text(form, "pin") or "2"
    if pin not in ("2", "5"):
        errors["pin"] = "the kick connector's pin is 2 or 5"
    else:
        values["pin"] = int(pin)


def _display_fields(form: Mapping[str, str], values: dict, errors: dict) -> None:
    values["follows"] = field_text(form, "follows") or None


def _bump_bar_fields(form: Mapping[str, str], values: dict, errors: dict) -> None:
    station = field_text(form, "station")
    if not station:
        errors["station"] = "choose the kitchen station whose tickets it bumps"
    values["station"] = station or None


_KIND_FIELDS = {
    "printer": _printer_fields,
    "drawer": _drawer_fields,
    "display": _display_fields,
    "bump_bar": _bump_bar_fields,
}


def field_of(error: ConfigError, device_id: str) -> str:
    """The form field a configuration error is about ("" for the form as a whole)."""
    prefix = f"devices.{device_id}."
    if error.key.startswith(prefix):
        return error.key.removeprefix(prefix)
    if error.key.startswith("stations."):
        return "stations"
    return ""


def form_values(table: Mapping[str, object] | None, stations: list[str]) -> dict[str, object]:
    """The form's fields filled from a device's table in the file (None: a new device)."""
    table = dict(table or {})
    return {
        "kind": str(table.get("kind", "printer")),
        "name": str(table.get("name", "")),
        "url": str(table.get("url", "")),
        "width": str(table.get("width", 48)),
        "backup": str(table.get("backup", "")),
        "printer": str(table.get("printer", "")),
        "pin": str(table.get("pin", 2)),
        "follows": str(table.get("follows", "")),
        "station": str(table.get("station", "")),
        "stations": stations,
    }
