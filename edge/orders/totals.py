"""Order totals, derived from lines, discounts and payments. Pure logic, integers only.

The rounding rule (the one rule, documented in docs/orders.md):

1. A line's gross amount is `qty × (unit_price + Σ modifier prices)`, in minor units.
2. A percent discount is rounded half up to the minor unit on the amount it applies to;
   discounts never take a line (or the order) below zero.
3. Order-level discounts are spread over the lines in proportion to their amounts, by the
   largest-remainder method (ties go to the lower line id), so every minor unit lands on
   exactly one line.
4. Tax is computed per order, once per (rate, included) group, on the sum of the group's
   discounted line amounts, rounded half up to the minor unit:
   tax-exclusive `base × r / 100` is added to the total; tax-inclusive
   `base × r / (100 + r)` is already inside it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line that counts (not voided), reduced to what totals need."""

    id: str
    gross: int
    tax_rate: Fraction  # percent, e.g. Fraction(15, 2) for 7.5 %
    tax_included: bool


@dataclass(frozen=True, slots=True)
class DiscountRule:
    """A discount: `amount` minor units or `percent` (a Fraction), on a line or the order."""

    id: str
    line: str | None
    amount: int | None = None
    percent: Fraction | None = None


@dataclass(frozen=True, slots=True)
class TaxAmount:
    """Tax of one (rate, included) group."""

    rate: Fraction
    included: bool
    base: int
    tax: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything an order owes and has paid, in minor units."""

    subtotal: int  # Σ gross of counted lines
    discount: int  # Σ discounts actually applied
    tax: int  # Σ tax, included or added
    tax_added: int  # the part of `tax` added on top of prices (tax-exclusive lines)
    total: int  # what the customer owes: subtotal − discount + tax_added
    paid: int  # Σ payment amounts (tips excluded)
    tips: int
    balance_due: int  # max(0, total − paid)
    change_due: int  # max(0, paid − total)
    taxes: tuple[TaxAmount, ...]
    line_net: dict[str, int]  # line id → amount after every discount


@functools.lru_cache(maxsize=256)
def percent_fraction(text: str) -> Fraction:
    """A decimal percent such as "8.875" as an exact Fraction (rates and percents recur)."""
    return Fraction(Decimal(text))


def round_half_up(value: Fraction) -> int:
    """Round a non-negative Fraction to the nearest integer, halves up."""
    return _divide_half_up(value.numerator, value.denominator)


def _divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (Fraction arithmetic is slow)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _percent_of(amount: int, percent: Fraction) -> int:
    return _divide_half_up(amount * percent.numerator, 100 * percent.denominator)


def _spread(amount: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `amount` over keys in proportion to weights, by largest remainder."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return dict.fromkeys(weights, 0)
    shares = {key: Fraction(amount * w, total) for key, w in weights.items()}
    result = {key: int(share) for key, share in shares.items()}
    leftover = amount - sum(result.values())
    by_remainder = sorted(weights, key=lambda key: (-(shares[key] - result[key]), key))
    for key in by_remainder[:leftover]:
        result[key] += 1
    return result


def compute_totals(
    lines: list[PricedLine],
    discounts: list[DiscountRule],
    payments: list[int],
    tips: list[int],
) -> Totals:
    """Totals of an order from its counted lines, discounts, payment amounts and tips."""
    by_id = {line.id: line for line in lines}
    net = {line.id: line.gross for line in lines}

    for rule in sorted((d for d in discounts if d.line is not None), key=lambda d: d.id):
        if rule.line not in by_id:
            continue  # the line was voided: its discount no longer applies
        base = by_id[rule.line].gross
        wanted = rule.amount if rule.percent is None else _percent_of(base, rule.percent)
        net[rule.line] -= min(net[rule.line], wanted or 0)

    order_base = sum(net.values())
    wanted_total = 0
    for rule in (d for d in discounts if d.line is None):
        wanted_total += (
            rule.amount if rule.percent is None else _percent_of(order_base, rule.percent)
        )
    order_discount = min(order_base, wanted_total)
    for line_id, share in _spread(order_discount, net).items():
        net[line_id] -= share

    # Keyed by the rate's integers: hashing a Fraction (pure Python) once per line was a
    # fifth of deriving an order of 500 lines.
    groups: dict[tuple[int, int, bool], int] = {}
    for line in lines:
        key = (line.tax_rate.numerator, line.tax_rate.denominator, line.tax_included)
        groups[key] = groups.get(key, 0) + net[line.id]
    taxes = []
    for (num, den, included), base in sorted(
        groups.items(), key=lambda group: (Fraction(group[0][0], group[0][1]), group[0][2])
    ):
        # base × r / (100 + r) when included, base × r / 100 when added; r = num / den
        divisor = 100 * den + num if included else 100 * den
        rate = Fraction(num, den)
        taxes.append(TaxAmount(rate, included, base, _divide_half_up(base * num, divisor)))

    subtotal = sum(line.gross for line in lines)
    discount = subtotal - sum(net.values())
    tax = sum(t.tax for t in taxes)
    tax_added = sum(t.tax for t in taxes if not t.included)
    total = subtotal - discount + tax_added
    paid = sum(payments)
    return Totals(
        subtotal=subtotal,
        discount=discount,
        tax=tax,
        tax_added=tax_added,
        total=total,
        paid=paid,
        tips=sum(tips),
        balance_due=max(0, total - paid),
        change_due=max(0, paid - total),
        taxes=tuple(taxes),
        line_net=net,
    )
