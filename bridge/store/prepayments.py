"""Prepayments in the store: attempts, forward-only status changes, the income ledger, callbacks as
received, the expiry scan and the report. Every function takes the caller's session, so a status
change, its ledger entry and the callback that caused it commit together or not at all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.store.models import Client, LedgerEntry, PaymentCallback, PrepaymentRow
from pipelines.prepayment import PAYABLE, Effect, PaymentReport, PrepaymentStatus, StatusChange, order_reference
from pipelines.prepayment.money import round_amount
from pipelines.prepayment.status import RANK

_STATUS_TIME = {
    PrepaymentStatus.PAID: "paid_at",
    PrepaymentStatus.HELD: "held_at",
    PrepaymentStatus.FAILED: "failed_at",
    PrepaymentStatus.EXPIRED: "expired_at",
    PrepaymentStatus.CANCELLED: "cancelled_at",
    PrepaymentStatus.REFUNDED: "refunded_at",
}


class StaleChange(RuntimeError):
    """A change computed from a status the row no longer has (or one that would move it backwards)."""


def create_attempt(
    session: Session,
    *,
    tenant: str,
    booking_id: str,
    provider: str,
    amount: Decimal,
    currency: str,
    deadline_at: datetime,
    now: datetime,
    client_id: int | None = None,
    rule: str | None = None,
    branch: str | None = None,
    visit_at: datetime | None = None,
    description: str | None = None,
) -> tuple[PrepaymentRow, bool]:
    """The booking's attempt still open for payment if there is one, else a new attempt numbered after
    the last (its order reference ``bk-<booking>-<attempt>``). Returns (row, created)."""
    latest = latest_for_booking(session, tenant, booking_id, lock=True)
    if latest is not None and PrepaymentStatus(latest.status) in PAYABLE:
        return latest, False
    attempt = (latest.attempt if latest else 0) + 1
    row = PrepaymentRow(
        tenant=tenant, booking_id=booking_id, client_id=client_id, attempt=attempt,
        order_ref=order_reference(booking_id, attempt), provider=provider, amount=round_amount(amount, currency),
        currency=currency, status=PrepaymentStatus.PENDING.value, rule=rule, branch=branch, visit_at=visit_at,
        description=description, deadline_at=deadline_at, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    return row, True


def get(session: Session, prepayment_id: int) -> PrepaymentRow | None:
    return session.get(PrepaymentRow, prepayment_id)


def latest_for_booking(session: Session, tenant: str, booking_id: str, *, lock: bool = False) -> PrepaymentRow | None:
    query = (select(PrepaymentRow).where(PrepaymentRow.tenant == tenant, PrepaymentRow.booking_id == booking_id)
             .order_by(PrepaymentRow.attempt.desc()).limit(1))
    return session.scalar(query.with_for_update() if lock else query)


def find_by_order_ref(session: Session, tenant: str, order_ref: str, *, lock: bool = False) -> PrepaymentRow | None:
    """The attempt behind a provider order reference (locked for the transaction when ``lock``)."""
    query = select(PrepaymentRow).where(PrepaymentRow.tenant == tenant, PrepaymentRow.order_ref == order_ref)
    return session.scalar(query.with_for_update() if lock else query)


def status_of(row: PrepaymentRow) -> PrepaymentStatus:
    return PrepaymentStatus(row.status)


def expected_amount(row: PrepaymentRow) -> Decimal:
    """The amount asked for, in the currency's minor unit (the column keeps three decimals)."""
    return round_amount(row.amount, row.currency)


def apply_change(
    session: Session, row: PrepaymentRow, change: StatusChange, now: datetime, report: PaymentReport | None = None
) -> LedgerEntry | None:
    """Write ``change`` to ``row`` (lock it first: ``find_by_order_ref(..., lock=True)``). Only forward
    moves from the status the change was computed from are written; the ledger entries its effects ask
    for are recorded in the same session. Returns the ledger entry made, if any."""
    if status_of(row) is not change.old_status:
        raise StaleChange(f"{row.order_ref}: computed from {change.old_status}, the row is {row.status}")
    if change.alert:
        row.alert, row.updated_at = change.alert, now
    if not change.changed:  # duplicates and stale reports leave the row as it was
        return None
    if RANK[change.new_status] <= RANK[change.old_status]:
        raise StaleChange(f"{row.order_ref}: {change.old_status} -> {change.new_status} is not forward")
    if report is not None:
        row.provider_status = report.provider_status[:32] or row.provider_status
        row.provider_payment_id = report.provider_payment_id or row.provider_payment_id
    row.status = change.new_status.value
    row.updated_at = now
    setattr(row, _STATUS_TIME[change.new_status], now)
    if report is not None and change.new_status in (PrepaymentStatus.PAID, PrepaymentStatus.HELD):
        row.received_amount, row.received_currency = report.amount, report.currency
    entry = None
    if Effect.RECORD_INCOME in change.effects:
        entry = _record_income(session, row, now)
    if Effect.RECORD_REFUND in change.effects:
        entry = _record_refund(session, row, now)
    if Effect.TOP_UP_BALANCE in change.effects or (entry is not None and entry.kind == "refund"):
        _add_to_balance(session, row, entry.amount if entry is not None else expected_amount(row), now)
    return entry


def _add_to_balance(session: Session, row: PrepaymentRow, amount: Decimal, now: datetime) -> None:
    """The client's card balance moves with the money: up by a paid prepayment (it is the client's until
    the visit is settled), down by its refund. One UPDATE, so two payments never lose one another."""
    if row.client_id is None:
        return
    session.execute(update(Client).where(Client.id == row.client_id, Client.tenant == row.tenant).values(
        balance=func.coalesce(Client.balance, 0) + amount, updated_at=now))


def _record_income(session: Session, row: PrepaymentRow, now: datetime) -> LedgerEntry:
    entry = LedgerEntry(tenant=row.tenant, prepayment_id=row.id, client_id=row.client_id, kind="income",
                        amount=expected_amount(row), currency=row.currency, note=f"prepayment {row.order_ref}",
                        created_at=now)
    session.add(entry)
    session.flush()
    entry.receipt_number = row.receipt_number = f"PP-{entry.id:06d}"  # unique: the entry's own id
    return entry


def _record_refund(session: Session, row: PrepaymentRow, now: datetime) -> LedgerEntry | None:
    """A refund entry only against recorded income (money held and never accepted was never income)."""
    income = session.scalar(select(LedgerEntry).where(LedgerEntry.prepayment_id == row.id,
                                                      LedgerEntry.kind == "income"))
    if income is None:
        return None
    entry = LedgerEntry(tenant=row.tenant, prepayment_id=row.id, client_id=row.client_id, kind="refund",
                        amount=-income.amount, currency=income.currency, receipt_number=None,
                        note=f"refund of {income.receipt_number}", created_at=now)
    session.add(entry)
    session.flush()
    return entry


def due_for_expiry(
    session: Session, now: datetime, *, limit: int = 500, checked_before: datetime | None = None
) -> list[PrepaymentRow]:
    """Attempts still payable whose deadline has passed, oldest deadline first (``ix_prepayments_due``);
    ``checked_before`` leaves out those touched since (a payment still in progress is asked about again
    only after a while)."""
    query = select(PrepaymentRow).where(PrepaymentRow.status.in_([s.value for s in PAYABLE]),
                                        PrepaymentRow.deadline_at <= now)
    if checked_before is not None:
        query = query.where(PrepaymentRow.updated_at < checked_before)
    return list(session.scalars(query.order_by(PrepaymentRow.deadline_at).limit(limit)))


def set_checkout_url(session: Session, row_id: int, url: str) -> None:
    session.execute(update(PrepaymentRow).where(PrepaymentRow.id == row_id).values(checkout_url=url))


# --- callbacks as received ----------------------------------------------------------------------------

def store_callback(
    session: Session, *, tenant: str, provider: str, body: bytes, content_type: str | None, now: datetime
) -> PaymentCallback:
    """Keep the body exactly as received; an identical body again counts as one more delivery."""
    digest = hashlib.sha256(body).hexdigest()
    try:
        with session.begin_nested():
            row = PaymentCallback(tenant=tenant, provider=provider, body=body, body_sha256=digest,
                                  content_type=(content_type or "")[:128] or None, received_at=now,
                                  last_received_at=now)
            session.add(row)
        return row
    except IntegrityError:
        row = session.scalar(select(PaymentCallback).where(
            PaymentCallback.tenant == tenant, PaymentCallback.provider == provider,
            PaymentCallback.body_sha256 == digest).with_for_update())
        if row is None:  # the conflict was something else: let it surface
            raise
        row.deliveries += 1
        row.last_received_at = now
        return row


# --- the report ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportRow:
    order_ref: str
    booking_id: str
    attempt: int
    client_id: int | None
    client: str | None  # the client's name (no phone or email in reports)
    branch: str | None
    rule: str | None
    provider: str
    amount: Decimal
    currency: str
    status: str
    visit_at: datetime | None
    created_at: datetime
    deadline_at: datetime
    paid_at: datetime | None
    held_at: datetime | None
    failed_at: datetime | None
    expired_at: datetime | None
    cancelled_at: datetime | None
    refunded_at: datetime | None
    receipt_number: str | None
    provider_payment_id: str | None
    received_amount: Decimal | None
    alert: str | None


def report_rows(
    session: Session,
    tenant: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    statuses: Sequence[str] = (),
    branch: str | None = None,
) -> list[ReportRow]:
    """Every attempt of the tenant created in [since, until), newest first, with the client's name."""
    query = (select(PrepaymentRow, Client.name).outerjoin(Client, Client.id == PrepaymentRow.client_id)
             .where(PrepaymentRow.tenant == tenant))
    if since is not None:
        query = query.where(PrepaymentRow.created_at >= since)
    if until is not None:
        query = query.where(PrepaymentRow.created_at < until)
    if statuses:
        query = query.where(PrepaymentRow.status.in_(list(statuses)))
    if branch is not None:
        query = query.where(PrepaymentRow.branch == branch)
    rows = session.execute(query.order_by(PrepaymentRow.created_at.desc(), PrepaymentRow.id.desc()))
    return [_report_row(row, name) for row, name in rows]


def _report_row(row: PrepaymentRow, name: str | None) -> ReportRow:
    received = round_amount(row.received_amount, row.currency) if row.received_amount is not None else None
    return ReportRow(
        order_ref=row.order_ref, booking_id=row.booking_id, attempt=row.attempt, client_id=row.client_id,
        client=name, branch=row.branch, rule=row.rule, provider=row.provider, amount=expected_amount(row),
        currency=row.currency, status=row.status, visit_at=row.visit_at, created_at=row.created_at,
        deadline_at=row.deadline_at, paid_at=row.paid_at, held_at=row.held_at, failed_at=row.failed_at,
        expired_at=row.expired_at, cancelled_at=row.cancelled_at, refunded_at=row.refunded_at,
        receipt_number=row.receipt_number, provider_payment_id=row.provider_payment_id, received_amount=received,
        alert=row.alert,
    )


def totals(session: Session, tenant: str) -> dict[str, int]:
    """Attempts per status (for summaries)."""
    rows = session.execute(select(PrepaymentRow.status, func.count()).where(PrepaymentRow.tenant == tenant)
                           .group_by(PrepaymentRow.status))
    return {status: n for status, n in rows}
