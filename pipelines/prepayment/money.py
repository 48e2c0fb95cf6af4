"""Money as ``Decimal`` in a currency's minor unit (ISO 4217), never as float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units of the currencies a salon is likely to price in; a currency not listed is refused
# rather than guessed (add it here with its ISO exponent).
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("UAH", "RUB", "USD", "EUR", "GBP", "PLN", "CZK", "HUF", "RON", "BGN", "MDL", "GEL", "KZT",
                     "BYN", "AMD", "AZN", "UZS", "TRY", "CHF", "SEK", "NOK", "DKK", "ILS", "AED", "CAD", "AUD"), 2),
    **dict.fromkeys(("JPY", "KRW", "ISK", "CLP", "VND"), 0),
    **dict.fromkeys(("KWD", "BHD", "OMR", "JOD", "TND"), 3),
}


class UnknownCurrency(ValueError):
    """A currency code missing from MINOR_UNITS."""


def minor_unit(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}: add its ISO 4217 minor unit") from None


def quantum(currency: str) -> Decimal:
    """The smallest amount of the currency: ``0.01`` for UAH, ``1`` for JPY."""
    return Decimal(1).scaleb(-minor_unit(currency))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """Rounded half up to the currency's minor unit: 123.455 UAH -> 123.46, 1234.5 JPY -> 1235."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def amount_text(amount: Decimal, currency: str) -> str:
    """Fixed-point text with exactly the currency's minor digits (``300.00``), as sent to LiqPay."""
    return format(round_amount(amount, currency), "f")
