"""HQ's catalog API at a real hub (`posedge hub` in its own process): categories, modifier
groups and open prices go in whole, and a change that breaks a rule is refused naming the
entry, with nothing written."""

from __future__ import annotations

from edge.orders.catalog import sample_catalog

GROUP = {"name": "Doneness", "min": 1, "max": 1, "modifiers": {"RARE": {"name": "Rare"}}}


async def test_hq_writes_groups_categories_and_open_prices_and_refuses_a_broken_change(hub):
    hub.add_store("s1")
    await hub.start()
    status, body = await hub.hq("PATCH", "/stores/s1/catalog", json=sample_catalog())
    assert status == 200, body
    refusals = [
        (
            {"modifier_groups": {"doneness": {**GROUP, "min": 2}}},
            "/modifier_groups/doneness",
            "modifier_groups.doneness: min 2 is more than max 1",
        ),
        (
            {"items": {"PIE": {"name": "Pie", "price": 450, "tax": "food",
                               "modifier_groups": ["crusts"]}}},
            "/items/PIE",
            "items.PIE: modifier group 'crusts' is not in the catalog",
        ),
        (
            {"items": {"PIE": {"name": "Pie", "price": 450, "tax": "food", "category": "pies"}}},
            "/items/PIE",
            "items.PIE: category 'pies' is not in the catalog",
        ),
        (
            {"modifier_groups": {"extras": {"name": "Extras", "modifiers": {"BACON": {}}}}},
            "/modifier_groups/extras",
            "modifier_groups.extras: modifier BACON is in group 'toppings' too",
        ),
        (
            {"items": {"PIE": {"name": "Pie", "tax": "food", "open_price": {"min": 9, "max": 1}}}},
            "/items/PIE",
            "items.PIE: open_price must be a range {min, max}",
        ),
    ]  # fmt: skip
    for patch, pointer, named in refusals:
        status, problem = await hub.hq("PATCH", "/stores/s1/catalog", json=patch)
        assert status == 422, problem
        assert named in problem["detail"] and problem["pointer"] == pointer, problem
    _, body = await hub.hq("GET", "/stores/s1/catalog")
    catalog = body["catalog"]
    assert "PIE" not in catalog["items"] and "extras" not in catalog["modifier_groups"]
    assert catalog["modifier_groups"]["doneness"]["min"] == 1  # as it was

    pie = {"name": "Pie", "tax": "food", "category": "pies", "open_price": {"min": 400, "max": 900},
           "modifier_groups": ["crusts"]}  # fmt: skip
    patch = {
        "categories": {"pies": {"name": "Pies", "position": 9}},
        "modifier_groups": {"crusts": {"name": "Crust", "max": 1, "modifiers": {"LATTICE": {}}}},
        "items": {"PIE": pie},
    }
    status, body = await hub.hq("PATCH", "/stores/s1/catalog", json=patch)
    assert status == 200, body
    _, body = await hub.hq("GET", "/stores/s1/catalog")
    assert body["catalog"]["items"]["PIE"]["open_price"] == {"min": 400, "max": 900}
