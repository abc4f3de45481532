"""`posedge catalog --import FILE`: a catalog in the TOML shape with categories, modifier
groups and open prices goes in; one that breaks a rule is refused naming the entry, with
nothing written; an older catalog with items' own flat `modifiers` tables still imports."""

from __future__ import annotations

import subprocess
import sys

from edge.orders.catalog import read_catalog
from sync.replica import Replica
from sync.store import DocStore

POSEDGE = [sys.executable, "-m", "edge.cli.main"]

OLD_STYLE = """
[taxes.food]
name = "Food"
rate = "8"

[items.PIE]
name = "Apple Pie"
price = 450
tax = "food"
[items.PIE.modifiers]
CREAM = { name = "Whipped cream", price = 75 }
ICE = { name = "Ice cream", price = 150 }
"""

GROUPS = """
[categories.desserts]
name = "Desserts"
position = 1

[modifier_groups.toppings]
name = "Toppings"
max = 2
max_each = 2
[modifier_groups.toppings.modifiers]
CARAMEL = { name = "Caramel", price = 50 }

[items.TART]
name = "Tart of the day"
tax = "food"
category = "desserts"
modifier_groups = ["toppings"]
open_price = { min = 300, max = 900 }
"""

BROKEN = """
[modifier_groups.sizes]
name = "Size"
min = 2
max = 1
[modifier_groups.sizes.modifiers]
SMALL = { name = "Small" }
BIG = { name = "Big" }

[items.CAKE]
name = "Cake"
price = 500
tax = "food"
category = "cakes"
"""


def posedge_catalog(state, path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*POSEDGE, "catalog", "--import", str(path), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def catalog_of(state):
    store = await DocStore.open(state / "orders.db")
    try:
        replica = Replica(store)
        guid = next(d.guid for d in store.documents("catalog"))
        return read_catalog(await replica.open(guid))
    finally:
        await store.close()


async def test_an_old_catalog_then_groups_import_and_a_broken_one_is_refused_whole(tmp_path):
    state = tmp_path / "state"
    (tmp_path / "old.toml").write_text(OLD_STYLE)
    done = posedge_catalog(state, tmp_path / "old.toml")
    assert done.returncode == 0, done.stderr
    (tmp_path / "groups.toml").write_text(GROUPS)
    done = posedge_catalog(state, tmp_path / "groups.toml")
    assert done.returncode == 0, done.stderr
    assert "2 items" in done.stdout

    (tmp_path / "broken.toml").write_text(BROKEN)
    done = posedge_catalog(state, tmp_path / "broken.toml")
    assert done.returncode == 64
    assert "broken.toml not imported" in done.stderr
    assert "modifier_groups.sizes: min 2 is more than max 1" in done.stderr
    assert "items.CAKE: category 'cakes' is not in the catalog" in done.stderr

    catalog = await catalog_of(state)
    assert set(catalog.items) == {"PIE", "TART"} and "sizes" not in catalog.groups
    pie = catalog.items["PIE"]
    assert [m.code for m in pie.modifiers.values()] == ["CREAM", "ICE"]
    assert pie.groups[0].id is None and pie.groups[0].max_each == 1
    tart = catalog.items["TART"]
    assert (tart.category, tart.group_ids, tart.open_price.max) == ("desserts", ["toppings"], 900)


def test_a_table_that_is_not_a_catalogs_is_refused(tmp_path):
    (tmp_path / "menu.toml").write_text('[menus.lunch]\nname = "Lunch"\n')
    done = posedge_catalog(tmp_path / "state", tmp_path / "menu.toml")
    assert done.returncode == 64
    assert "menus: not a table of a catalog" in done.stderr
