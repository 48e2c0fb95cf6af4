"""Provider order references: one per payment attempt, because both providers refuse a reused one
(LiqPay ``order_id_duplicate``, WayForPay reason 1112)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")
MAX_LENGTH = 120  # LiqPay allows 255; WayForPay documents no limit, so stay well inside both


def order_reference(booking_id: str, attempt: int) -> str:
    """``bk-<booking>-<attempt>``, ASCII only (characters other than letters, digits, ``_`` and ``.`` in
    the booking id become ``_``)."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    ref = f"bk-{_UNSAFE.sub('_', booking_id)}-{attempt}"
    if not booking_id or len(ref) > MAX_LENGTH:
        raise ValueError(f"booking id {booking_id!r} cannot make an order reference")
    return ref
