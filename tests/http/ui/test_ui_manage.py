"""The management pages' logic without a browser or a node: editing the configuration file
(checked whole before it is written, comments kept, nothing written when a value is bad),
the device, menu and settings forms, catalog changes checked as HQ's are, the test page."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest
import tomlkit

from drivers.escpos.decoder import EscPosDecoder
from edge.config.devices import parse_devices
from edge.config.edit import (
    configuration_text,
    read_document,
    remove_device,
    set_device,
    set_settings,
    write_checked,
)
from edge.config.layers import ConfigEditor, LayeredConfig
from edge.config.load import load
from edge.http.ui.config_forms import when_applied
from edge.http.ui.device_forms import field_of, read_device_form
from edge.http.ui.forms import FormErrors
from edge.http.ui.menu_forms import parse_modifiers, parse_price, read_item_form, read_tax_form
from edge.http.ui.settings_forms import masked, read_settings_form
from edge.orders.catalog import change_problems, sample_catalog
from edge.printing.layout import printer_test_document, render
from edge.runtime.errors import ConfigError
from tests.support import managed_node
from tests.support.store_documents import open_document

CONFIG = """\
# Burger Barn, counter node — edited by hand; keep this comment
[store]
id = "bb-1"
name = "Burger Barn"   # printed on receipts

[devices.front]
kind = "printer"
url = "tcp://10.0.0.31:9100"

[devices.till]
kind = "drawer"
printer = "front"

[stations]
grill = "front"
"""
TOKEN = "ph_" + "x" * 30


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "posedge.toml"
    path.write_text(CONFIG)
    return path


def edited(path, *edits):
    doc = read_document(path)
    for edit in edits:
        edit(doc)
    return write_checked(path, tomlkit.dumps(doc))


def leftovers(path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_a_good_edit_is_written_whole_and_keeps_the_files_comments(config_file):
    config = edited(config_file, set_settings({"store.name": "Burger Barn 2", "kds.warn_after": 4}))
    text = config_file.read_text()
    assert "# Burger Barn, counter node — edited by hand; keep this comment" in text
    assert "# printed on receipts" in text
    assert config.store.name == "Burger Barn 2" and config.kds.warn_after == 4.0
    assert config.source == str(config_file)
    assert load(config_file) == config
    assert leftovers(config_file) == []


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"store.rollover_hour": 27}, "store.rollover_hour", "must be between 0 and 23"),
        ({"kds.late_after": 2.0}, "kds.late_after", "must be more than kds.warn_after"),
        ({"upstream.url": "wss://hub:8443"}, "upstream.token", "go together"),
        ({"store.colour": "red"}, "store.colour", "unknown setting"),
        ({"receipt.printer": "kitchen"}, "receipt.printer", "must name a printer"),
    ],
)
def test_a_bad_value_names_its_key_and_nothing_is_written(config_file, change, key, reason):
    before = config_file.read_bytes()
    with pytest.raises(ConfigError) as refused:
        edited(config_file, set_settings(change))
    assert refused.value.key == key and reason in refused.value.reason
    assert refused.value.path == str(config_file)  # the file, not the temporary one
    assert config_file.read_bytes() == before
    assert leftovers(config_file) == []


def test_adding_a_printer_routes_its_stations_and_removing_it_unroutes_them(config_file):
    add = set_device(
        "bar", {"kind": "printer", "name": "Bar", "url": "tcp://10.0.0.32:9100"}, stations=["bar"]
    )
    config = edited(config_file, add)
    assert config.devices.printers["bar"].name == "Bar"
    assert config.devices.stations == {"grill": "front", "bar": "bar"}
    config = edited(config_file, remove_device("bar"))
    assert "bar" not in config.devices.printers
    assert config.devices.stations == {"grill": "front"}


def test_removing_the_printer_a_drawer_hangs_on_is_refused_with_the_drawers_key(config_file):
    before = config_file.read_bytes()
    with pytest.raises(ConfigError) as refused:
        edited(config_file, remove_device("front"))
    assert refused.value.key == "devices.till.printer"
    assert config_file.read_bytes() == before


async def test_the_editor_applies_a_change_once_written_and_never_a_refused_one(config_file):
    applied = []

    async def apply(config):
        applied.append(config)
        return ["store.*"]

    async with open_document(config_file.parent) as document:
        layers = LayeredConfig(config_file, document, "node-a")
        editor = ConfigEditor(layers, apply)
        done = await editor.change(set_settings({"store.name": "Barn", "print.late_after": 99}))
        assert done.restart == ["store.*"] == editor.waiting
        assert [c.store.name for c in applied] == ["Barn"]
        assert document.value("setting:store.name") == "Barn"  # the store's: every node's
        assert load(config_file).print.late_after == 99  # the machine's: in its file
        assert load(config_file).store.name != "Barn"  # (the file alone: the default)
        with pytest.raises(ConfigError):
            await editor.change(set_settings({"kds.warn_after": "soon"}))
        assert len(applied) == 1
        assert layers.effective().store.name == "Barn"


def test_the_demos_devices_written_to_a_file_load_back_the_same(tmp_path):
    devices = parse_devices(
        {
            "front": {"kind": "printer", "url": "tcp://127.0.0.1:9100", "backup": "back"},
            "back": {"kind": "printer", "url": "file:///dev/usb/lp0", "width": 32},
            "till": {"kind": "drawer", "printer": "front", "pin": 5},
            "cash2": {"kind": "drawer", "url": "serial:///dev/ttyS0", "open_byte": 9},
            "pole": {"kind": "display", "url": "serial:///dev/ttyUSB1", "follows": "Counter"},
            "grillbar": {"kind": "bump_bar", "url": "serial:///dev/ttyUSB2", "station": "grill"},
        },
        {"grill": "front"},
        "test",
    )
    path = tmp_path / "demo.toml"
    path.write_text(configuration_text({"store.name": "Demo"}, devices, "written by a test"))
    config = load(path)
    assert dataclasses.replace(config.devices) == devices
    assert path.read_text().startswith("# written by a test")


# --- the device form ------------------------------------------------------------------------


def test_a_device_form_with_a_bad_url_names_the_url_field_and_what_is_wrong():
    form = {"kind": "printer", "id": "bar", "name": "Bar", "url": "tcp://10.0.0.32:99999"}
    with pytest.raises(FormErrors) as refused:
        read_device_form(form, [], existing=None)
    assert set(refused.value.errors) == {"url"}
    assert "port '99999'" in refused.value.errors["url"]


def test_a_device_form_checks_its_id_and_the_fields_of_its_kind():
    with pytest.raises(FormErrors) as refused:
        read_device_form({"kind": "bump_bar", "id": "Bar!", "url": "serial:///dev/x"}, [],
                         existing=None)  # fmt: skip
    assert set(refused.value.errors) == {"id", "station"}


def test_a_drawer_on_a_printers_kick_port_drops_any_serial_address():
    change = read_device_form(
        {"kind": "drawer", "name": "Till", "printer": "front", "url": "junk", "pin": "5"},
        [],
        existing="till",
    )
    assert change.values == {
        "kind": "drawer",
        "name": "Till",
        "printer": "front",
        "url": None,
        "open_byte": None,
        "pin": 5,
    }
    assert change.stations is None


def test_a_configuration_error_is_shown_next_to_the_field_it_is_about():
    assert field_of(ConfigError("f", "devices.bar.backup", "x"), "bar") == "backup"
    assert field_of(ConfigError("f", "stations.grill", "x"), "bar") == "stations"
    assert field_of(ConfigError("f", "receipt.printer", "x"), "bar") == ""


# --- the menu -------------------------------------------------------------------------------


def test_the_catalog_check_refuses_removing_a_tax_items_use_as_the_hub_does():
    current = sample_catalog()
    problems = change_problems(current, {}, {"taxes": ["alcohol"]})
    assert problems and all("tax 'alcohol'" in p for p in problems)
    assert change_problems(current, {"items": {"PIE": {"name": "Pie", "price": 450,
                                                       "tax": "food"}}}) == []  # fmt: skip
    bad = change_problems(current, {"items": {"PIE": {"name": "Pie", "price": -1, "tax": "food"}}})
    assert bad == ["items.PIE: price cannot be negative"]


def test_prices_are_typed_in_major_units_and_kept_in_minor_units():
    assert parse_price("12.50", "USD") == 1250
    assert parse_price("12,5", "EUR") == 1250
    assert parse_price("900", "JPY") == 900
    for text in ("12.505", "-1", "abc", "NaN"):
        with pytest.raises(ValueError):
            parse_price(text, "USD")


def test_modifiers_are_one_per_line_and_a_bad_line_is_named():
    assert parse_modifiers("BACON | Add bacon | 2.50\n\nNO-ONION | No onion", "USD") == {
        "BACON": {"name": "Add bacon", "price": 250},
        "NO-ONION": {"name": "No onion", "price": 0},
    }
    with pytest.raises(ValueError, match="line 2"):
        parse_modifiers("BACON | Add bacon | 2.50\nCHEESE", "USD")


def test_an_item_form_names_every_bad_field():
    with pytest.raises(FormErrors) as refused:
        read_item_form({"sku": "p i e", "name": "", "price": "x", "tax": ""}, "USD",
                       existing=None)  # fmt: skip
    assert set(refused.value.errors) == {"sku", "name", "price", "tax"}
    sku, entry = read_item_form(
        {"name": "Pie", "price": "4.5", "tax": "food", "station": "", "modifiers": ""},
        "USD",
        existing="PIE",
    )
    assert (sku, entry) == ("PIE", {"name": "Pie", "tax": "food", "price": 450, "modifiers": {}})


def test_a_tax_rate_is_a_percent_under_100():
    assert read_tax_form({"id": "food", "name": "Food", "rate": "8.875 %"}, existing=None) == (
        "food",
        {"name": "Food", "rate": "8.875"},
    )
    with pytest.raises(FormErrors) as refused:
        read_tax_form({"id": "food", "name": "Food", "rate": "120"}, existing=None)
    assert set(refused.value.errors) == {"rate"}


# --- settings -------------------------------------------------------------------------------


def settings_form(**changes) -> dict:
    return managed_node.settings_form("Burger Barn", **changes)


def test_the_settings_form_changes_only_what_differs_and_keeps_a_blank_token(config_file):
    config = load(config_file)
    assert read_settings_form(settings_form(), config) == {}
    changes = read_settings_form(
        settings_form(**{"receipt.header": "1 Main St\n\nTel 555", "receipt.footer": ""}), config
    )
    assert changes == {"receipt.header": ["1 Main St", "Tel 555"], "receipt.footer": []}
    linked = dataclasses.replace(
        config, upstream=dataclasses.replace(config.upstream, url="wss://hub:8443", token=TOKEN)
    )
    assert read_settings_form(settings_form(**{"upstream.url": "wss://hub:8443"}), linked) == {}
    forget = settings_form(**{"upstream.url": "wss://hub:8443", "hub.forget": "1"})
    assert read_settings_form(forget, linked) == {"upstream.url": None, "upstream.token": None}
    with pytest.raises(FormErrors) as refused:
        read_settings_form(settings_form(**{"kds.warn_after": "soon", "store.name": ""}), config)
    assert set(refused.value.errors) == {"kds.warn_after", "store.name"}


def test_a_token_is_shown_masked_and_the_message_says_what_waits_for_a_restart():
    assert TOKEN not in masked(TOKEN) and masked(TOKEN).endswith(TOKEN[-4:])
    said = when_applied({"receipt.header": "receipt header", "upstream.url": "hub address"})
    assert said == "applied now: receipt header; after a restart of posedge: hub address"


def test_a_test_page_prints_the_printers_name_and_address():
    document = printer_test_document("Bar", "tcp://10.0.0.32:9100", "ann", "2026-11-24T14:05:00Z")
    decoder = EscPosDecoder()
    decoder.feed(render(document, zone=ZoneInfo("America/New_York")))
    text = "\n".join(paper.text for paper in decoder.papers)
    assert "TEST PRINT" in text and "tcp://10.0.0.32:9100" in text
    assert "Sent 2026-11-24 09:05 by ann" in text
