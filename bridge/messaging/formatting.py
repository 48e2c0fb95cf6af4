"""Placeholder values as text: dates and times in the tenant's zone and the language's format, amounts.

``pipelines`` already passes most values as formatted strings; the executor may pass ``datetime``,
``date``, ``Decimal`` or numbers instead (e.g. a prepayment ``amount``), and they must read the same way
the staff texts do (``pipelines.texts``), whoever formats them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from pipelines.texts import local_date, local_time

_DATE_FORMAT = {"ru": "%d.%m.%Y", "uk": "%d.%m.%Y", "en": "%Y-%m-%d"}


def format_values(
    context: Mapping[str, object], *, language: str, timezone: ZoneInfo, currency: str | None = None
) -> dict[str, str]:
    """Every value as the text a client should read; ``None`` is an empty (present) value."""
    return {name: format_value(name, value, language, timezone, currency) for name, value in context.items()}


def format_value(name: str, value: object, language: str, timezone: ZoneInfo, currency: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"placeholder {name!r}: naive datetime; pass an aware one (UTC)")
        if name == "time":
            return local_time(value, timezone)
        if name == "date":
            return local_date(value, timezone, language)
        return f"{local_date(value, timezone, language)} {local_time(value, timezone)}"
    if isinstance(value, date):
        return value.strftime(_DATE_FORMAT.get(language, "%d.%m.%Y"))
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return format_amount(Decimal(str(value)), language, currency) if name == "amount" else str(value)
    return str(value)


def format_amount(amount: Decimal, language: str, currency: str | None) -> str:
    """``1200.5`` → ``1 200,50 UAH`` (ru/uk) or ``1,200.50 UAH`` (en); currency code when known."""
    text = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    if language != "en":
        text = text.replace(",", " ").replace(".", ",")
    return f"{text} {currency}" if currency else text
