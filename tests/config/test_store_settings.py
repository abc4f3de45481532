"""Which settings are the store's: a file's store settings, network devices (and drawers
kicked through them) and stations are split from what is the machine's, and laid back over
it the store's way."""

from __future__ import annotations

from edge.config.store_settings import StoreTables, is_network_device, lay_over, split

FILE = {
    "store": {"id": "s1", "name": "Bistro", "rollover_hour": 5},
    "node": {"name": "n1", "letter": "A"},
    "receipt": {"printer": "front", "header": ["12 Main St"]},
    "kds": {"warn_after": 4.0},
    "devices": {
        "front": {"kind": "printer", "url": "serial:///dev/ttyUSB0"},
        "kitchen": {"kind": "printer", "url": "tcp://10.0.0.31:9100"},
        "till": {"kind": "drawer", "printer": "front"},
        "bar-till": {"kind": "drawer", "printer": "kitchen"},
        "pole": {"kind": "display", "url": "serial:///dev/ttyUSB1"},
    },
    "stations": {"grill": "kitchen", "bar": "front"},
}


def test_a_file_splits_into_the_stores_part_and_the_machines():
    store, machine = split(FILE, "n1")
    assert store.settings == {
        "store.name": "Bistro",
        "store.rollover_hour": 5,
        "receipt.header": ["12 Main St"],
        "kds.warn_after": 4.0,
    }
    assert sorted(store.devices) == ["bar-till", "kitchen"]
    assert store.stations == {"grill": "kitchen", "bar": "front"}
    assert store.owners == {"kitchen": "n1"}  # the node whose file had it prefers it
    assert machine == {
        "store": {"id": "s1"},
        "node": {"name": "n1", "letter": "A"},
        "receipt": {"printer": "front"},
        "devices": {
            "front": FILE["devices"]["front"],
            "till": FILE["devices"]["till"],
            "pole": FILE["devices"]["pole"],
        },
    }
    assert FILE["store"]["name"] == "Bistro"  # the table split is left as it was


def test_the_stores_part_laid_over_the_machines_gives_the_file_back():
    store, machine = split(FILE, "n1")
    assert lay_over(machine, store) == FILE


def test_the_stores_settings_win_over_the_files():
    store = StoreTables({"store.name": "New name"}, {}, {}, {})
    merged = lay_over({"store": {"id": "s1", "name": "Old"}}, store)
    assert merged["store"] == {"id": "s1", "name": "New name"}


def test_a_drawer_is_the_stores_only_through_a_network_printer():
    devices = FILE["devices"]
    assert is_network_device("bar-till", devices)
    assert not is_network_device("till", devices)
    assert not is_network_device("nowhere", devices)
    looped = {"a": {"kind": "drawer", "printer": "b"}, "b": {"kind": "drawer", "printer": "a"}}
    assert not is_network_device("a", looped)


def test_a_file_without_store_settings_has_nothing_to_move():
    store, machine = split({"node": {"name": "n1"}}, "n1")
    assert not store and machine == {"node": {"name": "n1"}}
