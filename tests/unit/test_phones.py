"""Phone normalisation (matching clients across systems) and masking (nothing dialable in logs)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.booking.phones import mask_email, mask_phone, normalize_email, to_e164

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+380671234567", "UA", "+380671234567"),
        ("380671234567", "UA", "+380671234567"),
        ("067 123 45 67", "UA", "+380671234567"),
        ("(067) 123-45-67", "UA", "+380671234567"),
        ("+38 (067) 123 45 67", "UA", "+380671234567"),
        ("  +380671234567  ", "UA", "+380671234567"),
        ("+79161234567", "RU", "+79161234567"),
        ("79161234567", "RU", "+79161234567"),
        ("89161234567", "RU", "+79161234567"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("+380671234567", "RU", "+380671234567"),  # international numbers ignore the tenant's country
        ("380671234567", "RU", "+380671234567"),  # stored without "+": retried as international
    ],
)
def test_to_e164_accepts_common_formats(raw: str, country: str, expected: str) -> None:
    assert to_e164(raw, country) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "123", "abc", "+1", "0000000000", "+999123456789"])
def test_to_e164_returns_none_for_empty_or_invalid(raw: str | None) -> None:
    assert to_e164(raw, "UA") is None


def test_to_e164_with_unknown_country_still_takes_international_numbers() -> None:
    assert to_e164("0671234567", "XX") is None
    assert to_e164("+380671234567", "XX") == "+380671234567"


@given(st.text(max_size=40), st.sampled_from(["UA", "RU", "US", "XX"]))
def test_to_e164_never_raises_and_returns_e164_or_none(raw: str, country: str) -> None:
    result = to_e164(raw, country)
    assert result is None or E164.match(result)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+380671234567", "+38067***4567"),
        ("+79161234567", "+79161***4567"),
        ("380671234567", "38067***4567"),
        ("+38 (067) 123-45-67", "+38067***4567"),
        ("1234567", "12***67"),
        ("12345", "***"),
        (None, ""),
        ("", ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


@given(st.from_regex(r"\+[1-9]\d{9,14}", fullmatch=True))
def test_mask_phone_hides_the_middle_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked.startswith(phone[:6]) and masked.endswith(phone[-4:]) and "***" in masked
    assert len(re.sub(r"\D", "", masked)) == 9  # never more than 9 digits survive


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("olga.petrova@example.com", "o***@example.com"),
        ("a@b.co", "a***@b.co"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
        (None, ""),
    ],
)
def test_mask_email(email: str | None, masked: str) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Olga@Example.COM ", "olga@example.com"),
        ("", None),
        (None, None),
        ("olga", None),
        ("olga@localhost", None),
        ("a b@example.com", None),
        ("x" * 195 + "@a.com", None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected
