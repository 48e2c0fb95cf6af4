"""Send the messages the playbook scheduled, when they fall due: at most once each, logged in amoCRM.

A message is marked "sending" (committed) before it goes out and "sent" after; one found still
"sending" later may or may not have reached the client, so it is closed as failed rather than sent
again: the product promises never to send the same (client, trigger, occasion) twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge import telemetry
from bridge.amocrm.client import SALESBOT_BATCH
from bridge.amocrm.errors import AmoError
from bridge.messaging import registry
from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient, SendResult
from bridge.messaging.links import client_link
from bridge.messaging.registry import NoChannel, build_channels, pick_channel
from bridge.messaging.render import TemplateProblem, render_for
from bridge.payments import NotConfigured, PaymentError
from bridge.payments.links import link_for_booking
from bridge.services import Services
from bridge.store import actions
from bridge.store import messages as stored
from config.tenants import Tenant
from pipelines.actions import AddNote, SendMessage
from pipelines.templates import TRANSACTIONAL, kind_of

log = logging.getLogger(__name__)
BATCH = 200
LINK_LIFETIME = timedelta(days=60)
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
CONTACT_WAIT = timedelta(seconds=30)  # a message on the amoCRM contact looks again this much later


def send_due(svc: Services, now: datetime) -> int:
    """Send every tenant's due messages; returns how many went out."""
    sent = 0
    for tenant in svc.tenants.values():
        stored.close_stuck(svc.store, tenant.slug, now)
        due = stored.due_ids(svc.store, tenant.slug, now, BATCH)
        if due:
            sent += _send_all(svc, tenant, due, now)
    return sent


def _send_all(svc: Services, tenant: Tenant, ids: list[int], now: datetime) -> int:
    """Each due message goes out through its channel; those of a channel that starts several in one
    request (Salesbot with the bot's own text) go together, up to ``SALESBOT_BATCH`` a request."""
    channels = build_channels(tenant, amocrm=_amocrm_client(svc, tenant))
    sent = 0
    together: dict[str, list[_Ready]] = {}
    for message_id in ids:
        ready = _prepare(svc, tenant, channels, message_id, now)
        if not isinstance(ready, _Ready):
            sent += ready
        elif getattr(ready.channel, "batches", False):
            together.setdefault(ready.channel.name, []).append(ready)
        else:
            sent += _deliver(svc, tenant, ready, now)
    for group in together.values():
        for start in range(0, len(group), SALESBOT_BATCH):
            sent += _deliver_together(svc, tenant, group[start:start + SALESBOT_BATCH], now)
    return sent


@dataclass(frozen=True)
class _Ready:
    """A message marked sending, with its channel and what goes out."""

    message_id: int
    attempts: int
    send: SendMessage
    channel: Any
    outgoing: OutgoingMessage


def _amocrm_client(svc: Services, tenant: Tenant) -> Any:
    """The tenant's amoCRM client when one of its channels runs through amoCRM (Salesbot)."""
    if not registry.uses_amocrm(tenant):
        return None
    from bridge.amocrm.connect import client_for

    try:
        return client_for(tenant, svc)
    except AmoError as exc:
        log.warning("amoCRM channels unavailable for %s: %s", tenant.slug, exc)
        return None


def _prepare(svc: Services, tenant: Tenant, channels: dict, message_id: int, now: datetime) -> int | _Ready:
    """The message rendered, its channel picked and the message marked sending; or, when it does not go
    out now, what became of it (0)."""
    message = stored.load(svc.store, tenant.slug, message_id)
    if message is None:
        return 0
    send = message.send
    to = Recipient(phone=message.phone, email=message.email, amo_contact_id=message.amo_contact_id)
    # decided again at sending time: the client may have opted out after it was planned
    if message.opted_out and kind_of(send.template) != TRANSACTIONAL:
        return _finish(svc, message_id, "skipped", now, error="the client opted out")
    link = client_link(svc.settings.secret_key, svc.settings.public_url, tenant.slug, send.client_id, "client-page",
                       now + LINK_LIFETIME)
    if _is_payment_link(tenant, send):
        try:
            link = link_for_booking(svc.store, tenant, send.booking_id or "", svc.settings.public_url, now)
        except (PaymentError, NotConfigured) as exc:
            return _failed(svc, message_id, message.attempts + 1, ChannelError(
                f"payment link unavailable: {exc}", channel="payments", retryable=True), now)
        if link is None:
            return _finish(svc, message_id, "skipped", now, error="the prepayment is no longer open")
    try:
        rendered = render_for(tenant, send, link)
    except TemplateProblem as exc:
        return _finish(svc, message_id, "skipped", now, error=str(exc))
    channel = pick_channel(send.channels, channels, to)
    if isinstance(channel, NoChannel):
        if to.amo_contact_id is None and stored.contact_owed(svc.store, tenant.slug, int(send.client_id)):
            stored.retry_later(svc.store, message_id, now + CONTACT_WAIT, "waiting for the client's amoCRM contact")
            return 0
        return _finish(svc, message_id, "skipped", now, error=channel.reason)
    stored.mark_sending(svc.store, message_id, channel.name, now)
    outgoing = OutgoingMessage(send.key, tenant.slug, send.client_id, send.template, to, rendered.text,
                               rendered.subject)
    return _Ready(message_id, message.attempts, send, channel, outgoing)


def _deliver(svc: Services, tenant: Tenant, ready: _Ready, now: datetime) -> int:
    try:
        result = ready.channel.send(ready.outgoing)
    except ChannelError as exc:
        return _not_sent(svc, tenant, ready, exc, now)
    return _sent(svc, tenant, ready, result, now)


def _deliver_together(svc: Services, tenant: Tenant, group: list[_Ready], now: datetime) -> int:
    """One request for the group; refused before anything started, each is sent on its own instead (so one
    bad message costs only itself); a failure that may have started some is every message's, never resent."""
    if len(group) == 1:
        return _deliver(svc, tenant, group[0], now)
    try:
        results = group[0].channel.send_many([r.outgoing for r in group])
    except ChannelError as exc:
        if exc.ambiguous:
            return sum(_not_sent(svc, tenant, ready, exc, now) for ready in group)
        return sum(_deliver(svc, tenant, ready, now) for ready in group)
    return sum(_sent(svc, tenant, ready, result, now) for ready, result in zip(group, results, strict=True))


def _sent(svc: Services, tenant: Tenant, ready: _Ready, result: SendResult, now: datetime) -> int:
    telemetry.count(svc.queue.connection, telemetry.MESSAGES_SENT, {"tenant": tenant.slug,
                                                                    "channel": ready.channel.name})
    _finish(svc, ready.message_id, "sent", now, provider_id=result.provider_id)
    _log_in_amocrm(svc, tenant, ready.send, ready.channel.name, ready.outgoing.text, now)
    return 1


def _not_sent(svc: Services, tenant: Tenant, ready: _Ready, exc: ChannelError, now: datetime) -> int:
    telemetry.count(svc.queue.connection, telemetry.MESSAGES_FAILED, {"tenant": tenant.slug,
                                                                      "channel": ready.channel.name})
    return _failed(svc, ready.message_id, ready.attempts + 1, exc, now)


def _is_payment_link(tenant: Tenant, send: SendMessage) -> bool:
    return tenant.prepayment is not None and send.template == tenant.prepayment.templates.link


def _failed(svc: Services, message_id: int, attempts: int, exc: ChannelError, now: datetime) -> int:
    again = exc.retryable and not exc.ambiguous and attempts <= len(RETRY_AFTER)
    stored.retry_later(svc.store, message_id, now + RETRY_AFTER[attempts - 1] if again else None, str(exc))
    log.warning("message %s via %s: %s", message_id, exc.channel, exc)
    return 0


def _finish(svc: Services, message_id: int, state: str, now: datetime, *, error: str | None = None,
            provider_id: str | None = None) -> int:
    stored.finish(svc.store, message_id, state, now, error=error, provider_id=provider_id)
    if error:
        log.info("message %s %s: %s", message_id, state, error)
    return 0


def _log_in_amocrm(svc: Services, tenant: Tenant, send: SendMessage, channel: str, text: str, now: datetime) -> None:
    """Every message is visible on the client's amoCRM contact, as a note (applied by the CRM sync)."""
    note = AddNote(key=f"note:{send.key}", client_id=send.client_id,
                   text=f"{registry.label(channel)} → {send.template}:\n{text}")
    with svc.store.session() as s:
        actions.record(s, tenant.slug, None, int(send.client_id), [note], now)
