"""The prepayment status loop (DESIGN §6 rule 11) as pure transitions.

Statuses only move forward by rank; a report the current status already reflects changes nothing (a
duplicate callback), and a report older than the current status is ignored (a replayed ``success``
after a refund). Money that arrives but cannot simply be accepted is **held** with an alert, never
marked paid: a different amount or currency, or a payment after the prepayment expired or the booking
was cancelled (staff decide whether the slot is still free; see docs/payments.md).

Every function returns a ``StatusChange``: the new status, an alert for the salon (or None) and the
effects the executor carries out. ``RECORD_INCOME``/``RECORD_REFUND`` are applied by the store in the
same transaction as the status; the rest are for the executor (amoCRM, messages, booking system).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from config.prepayment_model import PaidThenCancelled

RECHECK_GRACE = timedelta(hours=1)  # how long a payment still in progress at the deadline is waited for


class PrepaymentStatus(StrEnum):
    PENDING = "pending"  # link sent, waiting for the client (the seed's grey clock)
    FAILED = "failed"  # a payment attempt was declined; the client may still pay until the deadline
    EXPIRED = "expired"  # not paid by the deadline: the visit is cancelled
    CANCELLED = "cancelled"  # the booking was cancelled before anything was paid
    PAID = "paid"  # paid in full, in the right currency (green)
    HELD = "held"  # money arrived but was not accepted automatically: staff decide
    REFUNDED = "refunded"  # the provider reports the payment refunded or reversed


RANK: dict[PrepaymentStatus, int] = {
    PrepaymentStatus.PENDING: 0,
    PrepaymentStatus.FAILED: 1,
    PrepaymentStatus.EXPIRED: 2,
    PrepaymentStatus.CANCELLED: 2,
    PrepaymentStatus.PAID: 3,
    PrepaymentStatus.HELD: 3,
    PrepaymentStatus.REFUNDED: 4,
}
PAYABLE = frozenset({PrepaymentStatus.PENDING, PrepaymentStatus.FAILED})  # the link still works
CLOSED_UNPAID = frozenset({PrepaymentStatus.EXPIRED, PrepaymentStatus.CANCELLED})
MONEY_IN = frozenset({PrepaymentStatus.PAID, PrepaymentStatus.HELD})
# The amoCRM lead field ``prepayment_status`` has the options pending / paid / expired / refunded.
CRM_OPTION: dict[PrepaymentStatus, str] = {
    PrepaymentStatus.PENDING: "pending",
    PrepaymentStatus.FAILED: "pending",
    PrepaymentStatus.EXPIRED: "expired",
    PrepaymentStatus.CANCELLED: "expired",
    PrepaymentStatus.PAID: "paid",
    PrepaymentStatus.HELD: "pending",
    PrepaymentStatus.REFUNDED: "refunded",
}


class ProviderStatus(StrEnum):
    """A provider's status, reduced to what the loop distinguishes (mapping tables in bridge/payments)."""

    OPEN = "open"  # the order exists and nothing happened yet: the client has not paid
    PENDING = "pending"  # a payment in progress (or a status we do not know): never taken as paid
    PAID = "paid"
    FAILED = "failed"  # declined / error / the provider's own session expired
    REFUNDED = "refunded"


@dataclass(frozen=True)
class PaymentReport:
    """What a verified callback or a status query says about one order."""

    order_ref: str
    status: ProviderStatus
    amount: Decimal | None = None
    currency: str | None = None
    provider_status: str = ""  # the provider's own word ("success", "Approved"), for people
    provider_payment_id: str | None = None
    reason: str | None = None  # the provider's reason for a failure


class Effect(StrEnum):
    RECORD_INCOME = "record_income"  # ledger income entry and receipt number (the store does it)
    RECORD_REFUND = "record_refund"  # ledger refund entry (the store does it)
    TOP_UP_BALANCE = "top_up_balance"  # the client's balance grows by the amount
    UPDATE_LEAD = "update_lead"  # lead stage and prepayment_status field follow the new status
    UPDATE_BOOKING = "update_booking"  # tell the booking system (visit status or comment) where it allows
    NOTIFY_ADMIN = "notify_admin"  # amoCRM task or notification; with the alert when there is one
    NOTIFY_CLIENT = "notify_client"  # the template for the new status (paid, expired)
    CANCEL_VISIT = "cancel_visit"  # cancel the visit in the booking system: the slot is freed
    REMOVE_INVOICE = "remove_invoice"  # make the provider's link unpayable (WayForPay REMOVE_INVOICE)
    REFUND_REQUEST = "refund_request"  # a task for staff to refund a paid prepayment
    RECHECK = "recheck"  # ask the provider again later (payment still in progress at the deadline)


class Outcome(StrEnum):
    APPLIED = "applied"  # the status moved
    DUPLICATE = "duplicate"  # the status already says this
    STALE = "stale"  # a later status is already recorded: ignored
    NO_CHANGE = "no_change"  # nothing to act on (in progress, not due yet, kept as deposit)


@dataclass(frozen=True)
class StatusChange:
    old_status: PrepaymentStatus
    new_status: PrepaymentStatus
    outcome: Outcome
    alert: str | None = None
    effects: tuple[Effect, ...] = ()

    @property
    def changed(self) -> bool:
        return self.new_status is not self.old_status


_ON_ENTER: dict[PrepaymentStatus, tuple[Effect, ...]] = {
    PrepaymentStatus.FAILED: (),
    PrepaymentStatus.PAID: (Effect.RECORD_INCOME, Effect.TOP_UP_BALANCE, Effect.UPDATE_LEAD, Effect.UPDATE_BOOKING,
                            Effect.NOTIFY_ADMIN, Effect.NOTIFY_CLIENT),
    PrepaymentStatus.HELD: (Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN),
    PrepaymentStatus.EXPIRED: (Effect.REMOVE_INVOICE, Effect.CANCEL_VISIT, Effect.UPDATE_LEAD, Effect.NOTIFY_CLIENT),
    PrepaymentStatus.CANCELLED: (Effect.REMOVE_INVOICE, Effect.UPDATE_LEAD),
    PrepaymentStatus.REFUNDED: (Effect.RECORD_REFUND, Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN),
}


def _move(old: PrepaymentStatus, new: PrepaymentStatus, alert: str | None = None) -> StatusChange:
    """``old`` → ``new`` if that is forward; the same status is a duplicate; backwards is stale."""
    if new is old:
        return StatusChange(old, old, Outcome.DUPLICATE)
    if RANK[new] <= RANK[old]:
        return StatusChange(old, old, Outcome.STALE)
    return StatusChange(old, new, Outcome.APPLIED, alert, _ON_ENTER[new])


def amount_matches(report: PaymentReport, expected: Decimal, currency: str) -> bool:
    """Exactly the amount and currency asked for (numeric equality: 300 == 300.00)."""
    return report.amount is not None and report.amount == expected and report.currency == currency


def on_report(
    current: PrepaymentStatus, report: PaymentReport, *, expected: Decimal, currency: str
) -> StatusChange:
    """Apply a verified provider report (callback or status query) to the current status."""
    if report.status in (ProviderStatus.OPEN, ProviderStatus.PENDING):
        return StatusChange(current, current, Outcome.NO_CHANGE)
    if report.status is ProviderStatus.FAILED:
        if current not in PAYABLE:
            return StatusChange(current, current, Outcome.STALE)
        return _move(current, PrepaymentStatus.FAILED)
    if report.status is ProviderStatus.REFUNDED:
        alert = None if current in MONEY_IN or current is PrepaymentStatus.REFUNDED else (
            f"refund reported for a prepayment that was {current.value}, never paid")
        return _move(current, PrepaymentStatus.REFUNDED, alert)
    return _on_paid(current, report, expected, currency)


def _on_paid(current: PrepaymentStatus, report: PaymentReport, expected: Decimal, currency: str) -> StatusChange:
    if current in MONEY_IN:  # a duplicate; a second, different amount for a paid order is worth a look
        if current is PrepaymentStatus.PAID and not amount_matches(report, expected, currency):
            return StatusChange(current, current, Outcome.DUPLICATE, _mismatch(report, expected, currency),
                                (Effect.NOTIFY_ADMIN,))
        return StatusChange(current, current, Outcome.DUPLICATE)
    if current is PrepaymentStatus.REFUNDED:
        return StatusChange(current, current, Outcome.STALE)
    if not amount_matches(report, expected, currency):
        return _move(current, PrepaymentStatus.HELD, _mismatch(report, expected, currency))
    if current in CLOSED_UNPAID:
        return _move(current, PrepaymentStatus.HELD,
                     f"paid after the prepayment was {current.value}: confirm the visit if the slot is free, "
                     "otherwise refund")
    return _move(current, PrepaymentStatus.PAID)


def _mismatch(report: PaymentReport, expected: Decimal, currency: str) -> str:
    got = f"{report.amount} {report.currency}" if report.amount is not None else f"no amount ({report.currency})"
    return f"paid {got}, expected {expected} {currency}: not accepted automatically"


def on_deadline(
    current: PrepaymentStatus,
    deadline_at: datetime,
    now: datetime,
    provider_report: PaymentReport | None,
    *,
    expected: Decimal,
    currency: str,
    grace: timedelta = RECHECK_GRACE,
) -> StatusChange:
    """The deadline job: ``provider_report`` is the provider's answer to a status query made just now
    (None: the provider does not know the order, i.e. nobody opened the link). A payment that went
    through is applied instead of expiring; one still in progress is re-checked until ``grace`` after
    the deadline, then expired like any other."""
    if current not in PAYABLE or now < deadline_at:
        return StatusChange(current, current, Outcome.NO_CHANGE)
    status = provider_report.status if provider_report is not None else None
    if provider_report is not None and status in (ProviderStatus.PAID, ProviderStatus.REFUNDED):
        return on_report(current, provider_report, expected=expected, currency=currency)
    if status is ProviderStatus.PENDING and now < deadline_at + grace:
        return StatusChange(current, current, Outcome.NO_CHANGE, None, (Effect.RECHECK,))
    return _move(current, PrepaymentStatus.EXPIRED)


def on_booking_cancelled(current: PrepaymentStatus, policy: PaidThenCancelled) -> StatusChange:
    """The client cancelled the booking. Unpaid: the prepayment is cancelled. Paid: kept as a deposit, or a
    refund task for staff (the status moves to refunded only when the provider reports the refund)."""
    if current in PAYABLE:
        return _move(current, PrepaymentStatus.CANCELLED)
    if current is PrepaymentStatus.PAID and policy is PaidThenCancelled.REFUND_REQUEST:
        return StatusChange(current, current, Outcome.NO_CHANGE, None, (Effect.REFUND_REQUEST, Effect.NOTIFY_ADMIN))
    if current is PrepaymentStatus.HELD:
        return StatusChange(current, current, Outcome.NO_CHANGE, "booking cancelled while its payment is held",
                            (Effect.NOTIFY_ADMIN,))
    return StatusChange(current, current, Outcome.NO_CHANGE)
