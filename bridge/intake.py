"""Intake: the one path from an inbound body to stored events and queued jobs.

Live booking webhooks, ``salonbridge replay`` and the clock's catch-up polling all call ``receive``, so
a replayed or polled record is deduplicated and ordered exactly like a live delivery. amoCRM's own
webhooks (changes people made) come in through ``receive_amocrm``: every change of one delivery stored
in one transaction, then queued the same way.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from bridge import acceptance
from bridge.acceptance import Limits
from bridge.amocrm.webhook_form import FormError, changes, dedupe_key, parse_form, to_payload
from bridge.booking import registry
from bridge.booking.errors import PayloadError
from bridge.outage import REDIS
from bridge.queue import JobQueue
from bridge.store import inbox
from bridge.store.db import Store
from bridge.store.inbox import Receipt
from config.tenants import Tenant
from pipelines.events import VisitEvent

log = logging.getLogger(__name__)


def normalize(source: str, body: dict[str, Any], tenant: Tenant, now: datetime,
              limits: Limits = acceptance.DEFAULT) -> VisitEvent:
    """Translate a source's body into a VisitEvent; raises PayloadError naming the bad fields.

    Every source goes through the same acceptance rule (``bridge.acceptance``): the raw body first, then
    the event, so nothing is stored that the worker could not process."""
    found = registry.get(source)
    if found is None:
        raise PayloadError(f"unknown source {source!r}", {"source": ["unknown"]})
    acceptance.check_document(body, limits)
    try:
        event = found.normalize(body, tenant, now)
    except (ArithmeticError, ValueError) as exc:  # e.g. a local time at the end of the calendar
        raise acceptance.unacceptable({"(body)": [f"a value is out of range: {type(exc).__name__}"]}) from None
    acceptance.check_event(event, now, limits)
    return event


def store_event(store: Store, event: VisitEvent, now: datetime) -> Receipt:
    """Durably store the event and its outbox row (the point after which it is never lost)."""
    return inbox.accept(
        store,
        tenant=event.tenant,
        source=event.source,
        dedupe_key=event.dedupe_key,
        payload=event.to_dict(),
        now=now,
    )


def enqueue_after_commit(queue: JobQueue, receipt: Receipt) -> bool:
    """Try to queue the job now; if Redis is down the sweeper queues it later. Never raises."""
    if receipt.duplicate:
        return False
    try:
        queue.enqueue_event(receipt.event_id)
    except RedisError as exc:  # said once per outage; the event is stored, the sweeper queues it later
        REDIS.down(exc)
        return False
    REDIS.up()
    return True


AMOCRM_SOURCE = "amocrm"


def receive_amocrm(store: Store, queue: JobQueue, tenant: str, form_body: str, now: datetime,
                   limits: Limits = acceptance.DEFAULT) -> list[Receipt]:
    """Parse amoCRM's form-encoded webhook and store every change in it, all or none; raises FormError
    (with the HTTP status to answer) for a body that is not a usable amoCRM webhook."""
    events = [inbox.NewEvent(tenant, AMOCRM_SOURCE, dedupe_key(change), to_payload(tenant, change))
              for change in changes(parse_form(form_body))]
    for i, event in enumerate(events):
        try:
            acceptance.check_document(event.payload, limits, prefix=f"changes.{i}")
        except PayloadError as exc:
            raise FormError(exc.describe(), 422) from None
    receipts = inbox.accept_many(store, events, now=now)
    for receipt in receipts:
        enqueue_after_commit(queue, receipt)
    return receipts


def receive(store: Store, queue: JobQueue, tenant: Tenant, source: str, body: dict[str, Any], now: datetime,
            limits: Limits = acceptance.DEFAULT, *, history: bool = False) -> Receipt:
    """normalize → store → enqueue, for callers that are not the web endpoint (replay, catch-up).
    ``history`` marks the event for history mode (``extra["history"]``: nothing for cycles long over)."""
    event = normalize(source, body, tenant, now, limits)
    if history:
        event = replace(event, extra={**event.extra, "history": True})
    receipt = store_event(store, event, now)
    enqueue_after_commit(queue, receipt)
    return receipt
