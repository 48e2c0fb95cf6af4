"""A provider's server-to-server callback, from raw bytes to a stored, applied status change.

One transaction: the body is stored as received, then verified, then (when it is ours) the pure
transition is applied to the locked prepayment row with its ledger entry. The answer the provider
expects is built only after that commit, so a callback we could not store is never acknowledged and
the provider sends it again.

| what arrived                           | stored | status changes | answer                               |
|----------------------------------------|--------|----------------|--------------------------------------|
| bad or missing signature               | yes    | no             | 403                                  |
| unreadable body                        | yes    | no             | 400                                  |
| another merchant / action not ours     | yes    | no             | 200 (WayForPay: signed accept)       |
| unknown order reference                | yes    | no             | 200 (WayForPay: signed accept)       |
| our order                              | yes    | forward only   | 200 (WayForPay: signed accept)       |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.payments.base import (
    REPORT_WIDTHS,
    CallbackError,
    HttpAnswer,
    NotOurs,
    PaymentProvider,
    SignatureError,
    storable,
)
from bridge.store import prepayments as repo
from bridge.store.db import Store
from bridge.store.models import PrepaymentRow
from pipelines.prepayment import PaymentReport, StatusChange, on_report

log = logging.getLogger(__name__)

# Called inside the transaction after a change was written (the executor's hook: queue the effects).
AfterChange = Callable[[Session, PrepaymentRow, StatusChange, PaymentReport], None]


@dataclass(frozen=True)
class CallbackResult:
    answer: HttpAnswer
    outcome: str  # bad_signature | unreadable | not_ours | unknown_order | applied | duplicate | stale | no_change
    order_ref: str | None = None
    change: StatusChange | None = None


def _refusal(status: int, reason: str) -> HttpAnswer:
    return HttpAnswer(status, json.dumps({"error": reason}).encode(), "application/json")


def receive(
    store: Store,
    tenant: str,
    provider: PaymentProvider,
    body: bytes,
    content_type: str | None,
    now: datetime,
    after_change: AfterChange | None = None,
) -> CallbackResult:
    """Store, verify and apply one callback; returns the answer to send (after the commit)."""
    with store.session() as session:
        stored = repo.store_callback(session, tenant=tenant, provider=provider.name, body=body,
                                     content_type=content_type, now=now)
        where = f"tenant {tenant}, {provider.name} callback #{stored.id}"
        result, row = _handle(session, where, tenant, provider, body, content_type or "", now, after_change)
        if stored.deliveries == 1:  # a repeat keeps what its first delivery recorded
            stored.outcome, stored.order_ref = result.outcome, result.order_ref
            stored.prepayment_id = row.id if row is not None else None
            if result.change is not None:
                change = result.change
                stored.status_before, stored.status_after, stored.alert = (
                    change.old_status.value, change.new_status.value, change.alert)
    if result.outcome in ("bad_signature", "unreadable"):
        return result
    return CallbackResult(provider.answer(result.order_ref, now), result.outcome, result.order_ref, result.change)


def _handle(
    session: Session,
    where: str,
    tenant: str,
    provider: PaymentProvider,
    body: bytes,
    content_type: str,
    now: datetime,
    after_change: AfterChange | None,
) -> tuple[CallbackResult, PrepaymentRow | None]:
    ok = HttpAnswer(200, b"", "text/plain")  # replaced by the provider's own answer after the commit
    try:
        report = provider.parse_callback(body, content_type)
        storable(report)
    except SignatureError as exc:
        log.warning("%s refused: %s", where, exc)
        return CallbackResult(_refusal(403, "signature does not verify"), "bad_signature"), None
    except CallbackError as exc:
        log.warning("%s refused: %s", where, exc)
        return CallbackResult(_refusal(400, str(exc)), "unreadable"), None
    except NotOurs as exc:
        if exc.order_ref is not None and len(str(exc.order_ref)) > REPORT_WIDTHS["order_ref"]:
            log.warning("%s refused: an order reference longer than %d characters", where, REPORT_WIDTHS["order_ref"])
            return CallbackResult(_refusal(400, "order reference too long"), "unreadable"), None
        log.warning("%s ignored: %s (order %s)", where, exc, exc.order_ref)
        return CallbackResult(ok, "not_ours", exc.order_ref), None
    row = repo.find_by_order_ref(session, tenant, report.order_ref, lock=True)
    if row is None or row.provider != provider.name:
        log.warning("%s ignored: unknown order %s (%s)", where, report.order_ref, report.provider_status)
        return CallbackResult(ok, "unknown_order", report.order_ref), None
    change = on_report(repo.status_of(row), report, expected=repo.expected_amount(row), currency=row.currency)
    repo.apply_change(session, row, change, now, report)
    log.info("%s: order %s %s -> %s (%s, provider says %s)", where, row.order_ref, change.old_status.value,
             change.new_status.value, change.outcome.value, report.provider_status)
    if change.alert:
        log.warning("%s: order %s needs attention: %s", where, row.order_ref, change.alert)
    if after_change is not None and (change.changed or change.alert or change.effects):
        after_change(session, row, change, report)
    return CallbackResult(ok, change.outcome.value, row.order_ref, change), row
