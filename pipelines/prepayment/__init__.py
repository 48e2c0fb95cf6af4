"""Prepayment (seed 003): which bookings need one, the amount and deadline, and the status loop.

Pure: the tenant's ``prepayment:`` settings (``config.prepayment_model``) and the facts come in as
arguments, decisions come out as frozen dataclasses that the executor maps to actions.
"""

from pipelines.prepayment.decide import ClientFacts, PrepaymentDecision, Reason, decide, payment_deadline
from pipelines.prepayment.money import amount_text, minor_unit, round_amount
from pipelines.prepayment.orders import order_reference
from pipelines.prepayment.status import (
    CLOSED_UNPAID,
    CRM_OPTION,
    PAYABLE,
    Effect,
    Outcome,
    PaymentReport,
    PrepaymentStatus,
    ProviderStatus,
    StatusChange,
    on_booking_cancelled,
    on_deadline,
    on_report,
)

__all__ = [
    "CLOSED_UNPAID", "CRM_OPTION", "PAYABLE", "ClientFacts", "Effect", "Outcome", "PaymentReport", "PrepaymentDecision",
    "PrepaymentStatus", "ProviderStatus", "Reason", "StatusChange", "amount_text", "decide", "minor_unit",
    "on_booking_cancelled", "on_deadline", "on_report", "order_reference", "payment_deadline", "round_amount",
]
