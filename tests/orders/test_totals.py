"""Totals: the one rounding rule, discounts, inclusive and exclusive tax, change."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from edge.orders.totals import DiscountRule, PricedLine, compute_totals, round_half_up

RATE = Fraction(8875, 1000)  # 8.875 %


def line(id_, gross, rate=RATE, included=False):
    return PricedLine(id_, gross, rate, included)


def test_round_half_up_rounds_halves_up_and_the_rest_to_nearest():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(7, 2)) == 4
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(251, 100)) == 3


def test_exclusive_tax_is_added_to_the_total_rounded_half_up():
    totals = compute_totals([line("a", 1250), line("b", 450)], [], [], [])
    assert totals.subtotal == 1700
    assert totals.tax == 151  # 1700 × 8.875 % = 150.875
    assert totals.total == 1851


def test_tax_is_rounded_once_per_rate_on_the_sum_not_per_line():
    # Per line 110 × 5 % = 5.5 would round to 6 three times (18); on the sum 16.5 → 17.
    totals = compute_totals([line(x, 110, Fraction(5)) for x in "abc"], [], [], [])
    assert totals.tax == 17


def test_inclusive_tax_is_extracted_from_the_price_and_not_added():
    totals = compute_totals([line("a", 1190, Fraction(19), included=True)], [], [], [])
    assert totals.tax == 190  # 1190 × 19 / 119
    assert totals.tax_added == 0
    assert totals.total == 1190


def test_mixed_inclusive_and_exclusive_lines_are_taxed_in_separate_groups():
    totals = compute_totals(
        [line("a", 1000, Fraction(10), included=True), line("b", 1000, Fraction(10))], [], [], []
    )
    assert [(t.included, t.base, t.tax) for t in totals.taxes] == [
        (False, 1000, 100),
        (True, 1000, 91),
    ]
    assert totals.total == 2100


def test_line_percent_discount_rounds_half_up_and_never_goes_below_zero():
    totals = compute_totals(
        [line("a", 1250), line("b", 450)],
        [
            DiscountRule("d1", "a", percent=Fraction(15)),  # 187.5 → 188
            DiscountRule("d2", "b", amount=9999),
        ],  # clamped to the line
        [],
        [],
    )
    assert totals.line_net == {"a": 1062, "b": 0}
    assert totals.discount == 188 + 450


def test_order_discount_is_spread_by_largest_remainder_to_the_last_cent():
    totals = compute_totals(
        [line("a", 100), line("b", 100), line("c", 100)],
        [DiscountRule("d", None, amount=100)],
        [],
        [],
    )
    assert sorted(totals.line_net.values()) == [66, 67, 67]
    assert sum(totals.line_net.values()) == 200
    assert totals.line_net["a"] == 66 or totals.line_net["c"] == 66


def test_discount_on_a_voided_line_no_longer_applies():
    totals = compute_totals([line("a", 500)], [DiscountRule("d", "gone", amount=100)], [], [])
    assert totals.discount == 0


def test_balance_change_and_tips():
    totals = compute_totals([line("a", 1000, Fraction(0))], [], [600, 500], [150])
    assert totals.paid == 1100
    assert totals.balance_due == 0
    assert totals.change_due == 100
    assert totals.tips == 150
    partial = compute_totals([line("a", 1000, Fraction(0))], [], [400], [])
    assert (partial.balance_due, partial.change_due) == (600, 0)


amounts = st.integers(min_value=0, max_value=100_000)
rates = st.sampled_from([Fraction(0), Fraction(5), RATE, Fraction(19), Fraction(21)])


@given(
    lines=st.lists(st.tuples(amounts, rates, st.booleans()), min_size=1, max_size=8),
    order_amount=st.integers(min_value=0, max_value=200_000),
    order_percent=st.integers(min_value=0, max_value=100),
)
def test_totals_are_consistent_integers_for_any_order(lines, order_amount, order_percent):
    priced = [line(f"l{i}", gross, rate, inc) for i, (gross, rate, inc) in enumerate(lines)]
    discounts = [DiscountRule("x", None, amount=order_amount)] if order_amount else []
    discounts += [DiscountRule("y", None, percent=Fraction(order_percent))] if order_percent else []
    totals = compute_totals(priced, discounts, [], [])
    assert all(isinstance(v, int) for v in totals.line_net.values())
    assert all(v >= 0 for v in totals.line_net.values())
    assert 0 <= totals.discount <= totals.subtotal
    assert totals.subtotal - totals.discount == sum(totals.line_net.values())
    assert totals.total == totals.subtotal - totals.discount + totals.tax_added
    assert totals.tax >= totals.tax_added >= 0
