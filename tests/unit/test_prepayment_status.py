"""The prepayment status loop: every transition as a table row (status only moves forward)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from config.prepayment_model import PaidThenCancelled
from pipelines.prepayment import (
    CRM_OPTION,
    Effect,
    Outcome,
    PaymentReport,
    PrepaymentStatus,
    ProviderStatus,
    on_booking_cancelled,
    on_deadline,
    on_report,
)

S = PrepaymentStatus
EXPECTED = Decimal("300.00")
PAID_EFFECTS = (Effect.RECORD_INCOME, Effect.TOP_UP_BALANCE, Effect.UPDATE_LEAD, Effect.UPDATE_BOOKING,
                Effect.NOTIFY_ADMIN, Effect.NOTIFY_CLIENT)


def report(status: ProviderStatus, amount: str | None = "300", currency: str = "UAH") -> PaymentReport:
    return PaymentReport("bk-500-1", status, Decimal(amount) if amount is not None else None, currency, "x")


PAID = report(ProviderStatus.PAID)


def apply(current: PrepaymentStatus, r: PaymentReport):
    return on_report(current, r, expected=EXPECTED, currency="UAH")


# (current status, report) -> (new status, outcome, alert expected?)
TABLE = [
    # paid, right amount
    (S.PENDING, PAID, S.PAID, Outcome.APPLIED, False),
    (S.FAILED, PAID, S.PAID, Outcome.APPLIED, False),  # a retry after a decline
    (S.PAID, PAID, S.PAID, Outcome.DUPLICATE, False),  # duplicate callback
    (S.HELD, PAID, S.HELD, Outcome.DUPLICATE, False),
    (S.REFUNDED, PAID, S.REFUNDED, Outcome.STALE, False),  # replayed success after the refund
    (S.EXPIRED, PAID, S.HELD, Outcome.APPLIED, True),  # paid after expiry: held + alert
    (S.CANCELLED, PAID, S.HELD, Outcome.APPLIED, True),  # paid after the booking was cancelled
    # paid, wrong amount or currency
    (S.PENDING, report(ProviderStatus.PAID, "30"), S.HELD, Outcome.APPLIED, True),
    (S.PENDING, report(ProviderStatus.PAID, "3000"), S.HELD, Outcome.APPLIED, True),  # overpaid: held too
    (S.PENDING, report(ProviderStatus.PAID, "300", "USD"), S.HELD, Outcome.APPLIED, True),
    (S.PENDING, report(ProviderStatus.PAID, None), S.HELD, Outcome.APPLIED, True),
    (S.FAILED, report(ProviderStatus.PAID, "1"), S.HELD, Outcome.APPLIED, True),
    (S.EXPIRED, report(ProviderStatus.PAID, "1"), S.HELD, Outcome.APPLIED, True),
    (S.PAID, report(ProviderStatus.PAID, "1"), S.PAID, Outcome.DUPLICATE, True),  # a second, different payment
    (S.HELD, report(ProviderStatus.PAID, "1"), S.HELD, Outcome.DUPLICATE, False),
    # declined
    (S.PENDING, report(ProviderStatus.FAILED), S.FAILED, Outcome.APPLIED, False),
    (S.FAILED, report(ProviderStatus.FAILED), S.FAILED, Outcome.DUPLICATE, False),
    (S.PAID, report(ProviderStatus.FAILED), S.PAID, Outcome.STALE, False),  # a late decline never unpays
    (S.HELD, report(ProviderStatus.FAILED), S.HELD, Outcome.STALE, False),
    (S.EXPIRED, report(ProviderStatus.FAILED), S.EXPIRED, Outcome.STALE, False),
    (S.CANCELLED, report(ProviderStatus.FAILED), S.CANCELLED, Outcome.STALE, False),
    (S.REFUNDED, report(ProviderStatus.FAILED), S.REFUNDED, Outcome.STALE, False),
    # refunded / reversed
    (S.PAID, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, False),
    (S.HELD, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, False),
    (S.REFUNDED, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.DUPLICATE, False),
    (S.PENDING, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, True),  # never saw it paid
    (S.EXPIRED, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, True),
    (S.FAILED, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, True),
    (S.CANCELLED, report(ProviderStatus.REFUNDED), S.REFUNDED, Outcome.APPLIED, True),
    # nothing happened yet, or in progress: never acted on
    *[(s, report(ProviderStatus.PENDING), s, Outcome.NO_CHANGE, False) for s in S],
    *[(s, report(ProviderStatus.OPEN), s, Outcome.NO_CHANGE, False) for s in S],
]


@pytest.mark.parametrize(("current", "rep", "new", "outcome", "alerts"), TABLE)
def test_provider_reports(current, rep, new, outcome, alerts):
    change = apply(current, rep)
    assert (change.old_status, change.new_status, change.outcome) == (current, new, outcome)
    assert (change.alert is not None) is alerts


def test_every_status_meets_every_provider_report_in_the_table():
    covered = {(row[0], row[1].status) for row in TABLE}
    assert covered >= {(s, p) for s in S for p in ProviderStatus}


def test_status_never_moves_backwards():
    from pipelines.prepayment.status import RANK

    for current in S:
        for status in ProviderStatus:
            for amount in ("300", "1", None):
                change = apply(current, report(status, amount))
                assert RANK[change.new_status] >= RANK[current]
                assert change.changed == (change.outcome is Outcome.APPLIED)
                assert change.changed or not (set(change.effects) & {Effect.RECORD_INCOME, Effect.RECORD_REFUND})


def test_effects_of_paid_held_and_refunded():
    assert apply(S.PENDING, PAID).effects == PAID_EFFECTS
    held = apply(S.PENDING, report(ProviderStatus.PAID, "30"))
    assert held.effects == (Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN)
    assert held.alert == "paid 30 UAH, expected 300.00 UAH: not accepted automatically"
    assert Effect.RECORD_INCOME not in held.effects and Effect.TOP_UP_BALANCE not in held.effects
    assert apply(S.PAID, report(ProviderStatus.REFUNDED)).effects == (
        Effect.RECORD_REFUND, Effect.UPDATE_LEAD, Effect.NOTIFY_ADMIN)
    assert apply(S.PAID, PAID).effects == ()  # a duplicate does nothing twice
    assert apply(S.PENDING, report(ProviderStatus.FAILED)).effects == ()


def test_amount_compares_as_a_number_not_as_text():
    assert apply(S.PENDING, report(ProviderStatus.PAID, "300.000")).new_status is S.PAID


# --- the deadline -------------------------------------------------------------------------------------

DEADLINE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
AFTER = DEADLINE + timedelta(minutes=1)


def deadline(current, now, rep):
    return on_deadline(current, DEADLINE, now, rep, expected=EXPECTED, currency="UAH")


@pytest.mark.parametrize(("current", "now", "rep", "new", "effects"), [
    (S.PENDING, AFTER, None, S.EXPIRED, (Effect.REMOVE_INVOICE, Effect.CANCEL_VISIT, Effect.UPDATE_LEAD,
                                         Effect.NOTIFY_CLIENT)),
    (S.FAILED, AFTER, report(ProviderStatus.FAILED), S.EXPIRED, None),
    (S.PENDING, AFTER, PAID, S.PAID, PAID_EFFECTS),  # paid just before: confirmed, not cancelled
    (S.PENDING, AFTER, report(ProviderStatus.PAID, "1"), S.HELD, None),
    (S.PENDING, AFTER, report(ProviderStatus.PENDING), S.PENDING, (Effect.RECHECK,)),  # still in progress
    (S.PENDING, AFTER, report(ProviderStatus.OPEN), S.EXPIRED, None),  # opened, never paid
    (S.PENDING, DEADLINE + timedelta(hours=2), report(ProviderStatus.PENDING), S.EXPIRED, None),  # not forever
    (S.PENDING, DEADLINE - timedelta(minutes=1), None, S.PENDING, ()),  # not due yet
    (S.PAID, AFTER, None, S.PAID, ()),
    (S.HELD, AFTER, None, S.HELD, ()),
    (S.EXPIRED, AFTER, None, S.EXPIRED, ()),  # the job ran twice
    (S.CANCELLED, AFTER, None, S.CANCELLED, ()),
])
def test_deadline(current, now, rep, new, effects):
    change = deadline(current, now, rep)
    assert change.new_status is new
    if effects is not None:
        assert change.effects == effects


# --- the booking cancelled ----------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "policy", "new", "effects", "alerts"), [
    (S.PENDING, PaidThenCancelled.KEEP, S.CANCELLED, (Effect.REMOVE_INVOICE, Effect.UPDATE_LEAD), False),
    (S.FAILED, PaidThenCancelled.REFUND_REQUEST, S.CANCELLED, (Effect.REMOVE_INVOICE, Effect.UPDATE_LEAD), False),
    (S.PAID, PaidThenCancelled.KEEP, S.PAID, (), False),  # kept as a deposit
    (S.PAID, PaidThenCancelled.REFUND_REQUEST, S.PAID, (Effect.REFUND_REQUEST, Effect.NOTIFY_ADMIN), False),
    (S.HELD, PaidThenCancelled.KEEP, S.HELD, (Effect.NOTIFY_ADMIN,), True),
    (S.EXPIRED, PaidThenCancelled.KEEP, S.EXPIRED, (), False),
    (S.REFUNDED, PaidThenCancelled.REFUND_REQUEST, S.REFUNDED, (), False),
])
def test_booking_cancelled(current, policy, new, effects, alerts):
    change = on_booking_cancelled(current, policy)
    assert (change.new_status, change.effects, change.alert is not None) == (new, effects, alerts)


def test_every_status_has_an_amocrm_option_from_the_provisioned_list():
    from bridge.amocrm.provisioning import PREPAYMENT_ENUMS

    assert set(CRM_OPTION) == set(S) and set(CRM_OPTION.values()) <= set(PREPAYMENT_ENUMS)
