"""The prepayment report's rows as plain values and as CSV, shared by ``salonbridge report prepayments``
and the dashboard: times in the tenant's zone (ISO 8601), amounts as text, the branch by name, the
client's name only (never a phone or an email). CSV is UTF-8 with a BOM so spreadsheet programs read
Cyrillic names correctly."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

TIMES = ("visit_at", "created_at", "deadline_at", "paid_at", "held_at", "failed_at", "expired_at", "cancelled_at",
         "refunded_at")
COLUMNS = ("order_ref", "booking_id", "attempt", "client", "branch", "rule", "provider", "amount", "currency",
           "status", *TIMES, "receipt_number", "provider_payment_id", "received_amount", "alert")
CLOSED_AT = {"paid": "paid_at", "held": "held_at", "failed": "failed_at", "expired": "expired_at",
             "cancelled": "cancelled_at", "refunded": "refunded_at"}


def record(row: Any, tenant: Any) -> dict[str, Any]:
    """One report row as plain values: times in the tenant's zone (ISO 8601), amounts as text."""
    out: dict[str, Any] = {}
    for name in COLUMNS:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.astimezone(tenant.timezone).isoformat(timespec="seconds")
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    out["branch"] = tenant.branch_name(row.branch) or row.branch
    return out


def render_csv(records: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return buffer.getvalue().encode("utf-8-sig")
