"""Phone and email hygiene: E.164 so clients match across systems, masking so logs hold no contact data."""

from __future__ import annotations

import re

import phonenumbers

_NOT_DIGITS = re.compile(r"\D")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def to_e164(raw: str | None, country: str) -> str | None:
    """``raw`` as E.164 (``+380671234567``), or None when empty or not a valid number.

    ``country`` (ISO 3166 alpha-2, the tenant's) resolves national formats such as ``8 (999) 000-00-00``
    or ``067 123 45 67``. Booking systems often store international numbers without the ``+``
    (``380671234567``); when the national reading is invalid, the digits are retried as international.
    """
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    candidates = [text]
    digits = _NOT_DIGITS.sub("", text)
    if not text.startswith("+") and len(digits) >= 8:
        candidates.append("+" + digits)
    for candidate in candidates:
        number = _parse(candidate, country)
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _parse(text: str, country: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, country.upper() if country else None)
    except phonenumbers.NumberParseException:
        return None


def mask_phone(phone: str | None) -> str:
    """``+380671234567`` → ``+38067***4567``: enough to tell numbers apart in logs, not to dial one.

    Works on any input (formatting is dropped first); short inputs keep less, and the mask is always
    ``***`` whatever the number of hidden digits.
    """
    if not phone:
        return ""
    text = str(phone).strip()
    plus = "+" if text.startswith("+") else ""
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) >= 10:
        return f"{plus}{digits[:5]}***{digits[-4:]}"
    if len(digits) >= 6:
        return f"{plus}{digits[:2]}***{digits[-2:]}"
    return "***"


def mask_email(email: str | None) -> str:
    """``olga.petrova@example.com`` → ``o***@example.com`` (the domain stays: it helps debug delivery)."""
    if not email:
        return ""
    local, at, domain = str(email).strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def normalize_email(raw: str | None) -> str | None:
    """A trimmed, lower-cased address, or None when empty or clearly not an address (matching needs one form)."""
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if len(text) > 200 or not _EMAIL.match(text):
        return None
    return text
