"""The catalog's menu model, pure: categories, modifier groups and open prices parsed (and a
broken entry left out, named), the old flat `modifiers` table still read, and a line's
modifiers checked against the item's groups: a random selection is accepted exactly when it
meets every group's min, max and max_each."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.orders import rules
from edge.orders.catalog import change_problems, parse_catalog, sample_catalog
from edge.orders.menu_rules import Mark, Unavailable, chosen_modifiers
from edge.runtime.errors import InvalidInput, ItemUnavailable, ModifierRejected, UnknownItem

TAXES = {"food": {"name": "Food", "rate": "8"}}


def menu(**roots) -> dict:
    return {"taxes": TAXES, **roots}


def test_the_sample_has_categories_groups_and_an_open_price_and_parses_whole():
    catalog = parse_catalog(sample_catalog())
    assert catalog.problems == []
    assert list(catalog.categories)[:2] == ["burgers", "sandwiches"]
    angus = catalog.items["ANGUS"]
    assert angus.category == "burgers"
    assert [g.id for g in angus.groups][:2] == ["doneness", "toppings"]
    doneness = catalog.groups["doneness"]
    assert doneness.required and doneness.exclusive
    assert list(doneness.modifiers) == ["RARE", "MED-RARE", "MEDIUM", "MED-WELL", "WELL"]
    assert catalog.groups["toppings"].max_each == 3
    assert not catalog.groups["sauces"].required and catalog.groups["sauces"].max == 2
    special = catalog.items["SPECIAL"]
    assert (special.open_price.min, special.open_price.max, special.price) == (500, 5000, 0)


def test_an_old_flat_modifiers_table_reads_as_an_optional_group_each_once():
    catalog = parse_catalog(
        menu(items={"PIE": {"name": "Pie", "price": 450, "tax": "food",
                            "modifiers": {"CREAM": {"name": "Cream", "price": 75},
                                          "ICE": {"name": "Ice cream", "price": 150}}}})
    )  # fmt: skip
    assert catalog.problems == []
    pie = catalog.items["PIE"]
    [own] = pie.groups
    assert (own.id, own.min, own.max, own.max_each) == (None, 0, None, 1)
    assert pie.modifiers["CREAM"].price == 75 and pie.own_modifiers == own.modifiers
    entry = rules.line_entry(catalog, "PIE", 2, ["CREAM", "ICE"], None)
    assert entry["modifiers"] == [
        {"code": "CREAM", "name": "Cream", "price": 75, "qty": 1, "group": None},
        {"code": "ICE", "name": "Ice cream", "price": 150, "qty": 1, "group": None},
    ]
    assert rules.line_entry(catalog, "PIE", 1, [], None)["modifiers"] == []
    with pytest.raises(ModifierRejected, match="at most once") as refused:
        rules.line_entry(catalog, "PIE", 1, ["CREAM", "CREAM"], None)
    assert refused.value.field == "/modifiers/1"


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        (
            {"modifier_groups": {"g": {"name": "G", "min": 3, "max": 2,
                                       "modifiers": {"A": {}, "B": {}, "C": {}}}}},
            "modifier_groups.g: min 3 is more than max 2",
        ),
        (
            {"modifier_groups": {"g": {"name": "G", "min": 2, "modifiers": {"A": {}}}}},
            "modifier_groups.g: min 2 cannot be met",
        ),
        (
            {"items": {"X": {"name": "X", "price": 1, "tax": "food",
                             "modifier_groups": ["nowhere"]}}},
            "items.X: modifier group 'nowhere' is not in the catalog",
        ),
        (
            {"items": {"X": {"name": "X", "price": 1, "tax": "food", "category": "nowhere"}}},
            "items.X: category 'nowhere' is not in the catalog",
        ),
        (
            {"modifier_groups": {"z-sauces": {"name": "Z", "modifiers": {"CHEESE": {}}}}},
            "modifier_groups.z-sauces: modifier CHEESE is in group 'toppings' too",
        ),
        (
            {"items": {"X": {"name": "X", "tax": "food", "open_price": {"min": 900, "max": 100}}}},
            "items.X: open_price must be a range {min, max}",
        ),
        (
            {"items": {"X": {"name": "X", "tax": "food", "open_price": 500}}},
            "items.X: open_price must be a range {min, max}",
        ),
        (
            {"items": {"X": {"name": "X", "price": 5, "tax": "food",
                             "open_price": {"min": 1, "max": 9}}}},
            "items.X: an open-priced item takes its price from each line",
        ),
        (
            {"categories": {"c": {"name": "C", "position": -1}}},
            "categories.c: position must be at least 0",
        ),
        ({"modifier_groups": ["not", "a", "table"]}, "modifier_groups: must be a table"),
    ],
)  # fmt: skip
def test_a_change_that_breaks_a_rule_is_refused_naming_the_entry(patch, named):
    problems = change_problems(sample_catalog(), patch)
    assert any(problem.startswith(named) for problem in problems), problems


def test_removing_a_group_or_category_items_use_is_refused_naming_the_items():
    problems = change_problems(sample_catalog(), {}, {"modifier_groups": ["doneness"]})
    assert problems == [
        "items.ANGUS: modifier group 'doneness' is not in the catalog (or was left out)"
    ]
    problems = change_problems(sample_catalog(), {}, {"categories": ["sides"]})
    assert {p.split(":")[0] for p in problems} == {"items.FRIES", "items.RINGS"}


def test_modifier_quantities_are_kept_per_unit_and_priced_into_the_gross():
    catalog = parse_catalog(sample_catalog())
    modifiers = ["MEDIUM", {"code": "CHEESE", "qty": 2}, "BACON", "CHEESE"]
    entry = rules.line_entry(catalog, "ANGUS", 2, modifiers, None)
    assert entry["modifiers"] == [
        {"code": "MEDIUM", "name": "Medium", "price": 0, "qty": 1, "group": "doneness"},
        {"code": "CHEESE", "name": "Add cheese", "price": 150, "qty": 3, "group": "toppings"},
        {"code": "BACON", "name": "Add bacon", "price": 250, "qty": 1, "group": "toppings"},
    ]
    assert entry["unit_price"] == 1495


def test_each_line_rule_refuses_with_its_error_and_pointer():
    catalog = parse_catalog(sample_catalog())
    refusals = [
        (["MEDIUM", "GOLD"], UnknownItem, "/modifiers/1", "has no modifier 'GOLD'"),
        (["MEDIUM", "LARGE"], UnknownItem, "/modifiers/1", "does not offer Size"),
        (["MEDIUM", {"code": "BACON", "qty": 4}], ModifierRejected, "/modifiers/1", "at most 3"),
        ([], ModifierRejected, "/modifiers", "at least 1 of Doneness (group 'doneness')"),
        (["RARE", "WELL"], ModifierRejected, "/modifiers", "at most 1 of Doneness"),
        (["RARE", "KETCHUP", "BBQ", "RANCH"], ModifierRejected, "/modifiers", "of Sauces"),
        (["RARE", {"code": "BACON", "qty": 0}], InvalidInput, "/modifiers/1/qty", "from 1"),
        (["RARE", {"code": "BACON", "x": 1}], InvalidInput, "/modifiers/1/x", "not a field"),
        (["RARE", 7], InvalidInput, "/modifiers/1", "a modifier code"),
        ("RARE", InvalidInput, "/modifiers", "must be a list"),
    ]
    for modifiers, error, pointer, said in refusals:
        with pytest.raises(error, match=re.escape(said)) as refused:
            rules.line_entry(catalog, "ANGUS", 1, modifiers, None)
        assert refused.value.field == pointer, (modifiers, refused.value)


def test_an_open_price_is_taken_within_its_range_and_a_set_price_takes_none():
    catalog = parse_catalog(sample_catalog())
    assert rules.line_entry(catalog, "SPECIAL", 1, [], None, price=1850)["unit_price"] == 1850
    for price in (499, 5001, None, "12.00", 12.5, True):
        with pytest.raises(InvalidInput) as refused:
            rules.line_entry(catalog, "SPECIAL", 1, [], None, price=price)
        assert refused.value.field == "/price"
    with pytest.raises(InvalidInput, match="has a set price") as refused:
        rules.line_entry(catalog, "FRIES", 1, [], None, price=450)
    assert refused.value.field == "/price"


def test_an_unavailable_item_or_modifier_is_refused_naming_it():
    catalog = parse_catalog(sample_catalog())
    out = Mark("out of buns", "Grill (t-1)", "2026-11-20T18:00:00+00:00")
    unavailable = Unavailable(items={"ANGUS": out}, modifiers={"BACON": out})
    with pytest.raises(ItemUnavailable, match="Angus Burger is unavailable for now: out of buns"):
        rules.line_entry(catalog, "ANGUS", 1, ["RARE"], None, unavailable=unavailable)
    with pytest.raises(ItemUnavailable, match=r"Add bacon \(BACON\)") as refused:
        rules.line_entry(catalog, "VEGGIE", 1, ["CHEESE", "BACON"], None, unavailable=unavailable)
    assert refused.value.field == "/modifiers/1"
    with pytest.raises(ItemUnavailable):  # wherever it is offered: an item's own table too
        rules.line_entry(catalog, "BURGER", 1, ["BACON"], None, unavailable=unavailable)
    assert rules.line_entry(catalog, "VEGGIE", 1, ["CHEESE"], None, unavailable=unavailable)


# -- the group rules, as a property --------------------------------------------------------


@st.composite
def groups_and_selection(draw):
    """One item offering 1-3 groups of random rules, and a request naming random modifiers
    of them (as codes or {code, qty}) and sometimes one of another group."""
    groups = {}
    for index in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 4))
        each = draw(st.integers(1, 3))
        high = draw(st.none() | st.integers(1, 6))
        low = draw(st.integers(0, min(high or 6, size * each)))
        groups[f"g{index}"] = {
            "name": f"Group {index}",
            "min": low,
            "max_each": each,
            "modifiers": {
                f"M{index}{n}": {"name": f"M{index}{n}", "price": n} for n in range(size)
            },
            **({"max": high} if high is not None else {}),
        }
    groups["other"] = {"name": "Other", "modifiers": {"ELSEWHERE": {}}}
    codes = [code for g in groups.values() for code in g["modifiers"]]
    request = draw(
        st.lists(
            st.sampled_from(codes).flatmap(
                lambda code: (
                    st.just(code)
                    | st.builds(lambda qty: {"code": code, "qty": qty}, st.integers(1, 3))
                )
            ),
            max_size=8,
        )
    )
    return groups, request


def _meets_every_rule(groups: dict, request: list) -> bool:
    totals: dict[str, int] = {}
    for entry in request:
        code, qty = (entry, 1) if isinstance(entry, str) else (entry["code"], entry["qty"])
        totals[code] = totals.get(code, 0) + qty
    if "ELSEWHERE" in totals:
        return False
    for group in groups.values():
        chosen = sum(totals.get(code, 0) for code in group["modifiers"])
        if any(totals.get(code, 0) > group["max_each"] for code in group["modifiers"]):
            return False
        if chosen < group["min"] or ("max" in group and chosen > group["max"]):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(groups_and_selection())
def test_a_selection_is_accepted_exactly_when_it_meets_every_groups_rules(drawn):
    groups, request = drawn
    offered = [g for g in groups if g != "other"]
    item = {"name": "Thing", "price": 100, "tax": "food", "modifier_groups": offered}
    catalog = parse_catalog(menu(modifier_groups=groups, items={"T": item}))
    assert catalog.problems == []
    expected = _meets_every_rule({g: groups[g] for g in offered}, request)
    try:
        chosen = chosen_modifiers(catalog, catalog.items["T"], request, Unavailable())
    except (ModifierRejected, UnknownItem):
        assert not expected, request
    else:
        assert expected, request
        wanted: dict[str, int] = {}
        for entry in request:
            code, qty = (entry, 1) if isinstance(entry, str) else (entry["code"], entry["qty"])
            wanted[code] = wanted.get(code, 0) + qty
        assert {m["code"]: m["qty"] for m in chosen} == wanted
