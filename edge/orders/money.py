"""Formatting amounts held as integer minor units. Pure logic."""

# ISO 4217 currencies whose minor unit is not a hundredth.
_EXPONENTS = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
}


def exponent(currency: str) -> int:
    """Digits after the decimal point for `currency` (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(amount: int, currency: str) -> str:
    """`1250, "USD"` → `"12.50 USD"`; exact, no floats."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    text = f"{major}.{minor:0{digits}d}" if digits else str(major)
    return f"{sign}{text} {currency.upper()}"
