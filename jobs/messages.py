"""Send the messages the playbook scheduled, when they fall due: at most once each, logged in amoCRM.

A message is marked "sending" (committed) before it goes out and "sent" after; one found still
"sending" later may or may not have reached the client, so it is closed as failed rather than sent
again: the product promises never to send the same (client, trigger, occasion) twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bridge.amocrm.errors import AmoError
from bridge.messaging.base import ChannelError, OutgoingMessage, Recipient
from bridge.messaging.links import client_link
from bridge.messaging.registry import NoChannel, build_channels, pick_channel
from bridge.messaging.render import TemplateProblem, render_for
from bridge.services import Services
from bridge.store import links
from bridge.store.models import Client, MessageRow
from config.tenants import Tenant
from jobs.process_event import record_actions
from pipelines.actions import AddNote, SendMessage
from pipelines.templates import TRANSACTIONAL, kind_of

log = logging.getLogger(__name__)
BATCH = 200
LINK_LIFETIME = timedelta(days=60)
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
STUCK_AFTER = timedelta(minutes=10)
CHANNEL_NAMES = {"sms": "SMS", "email": "Email", "salesbot": "Salesbot"}


def send_due(svc: Services, now: datetime) -> int:
    """Send every tenant's due messages; returns how many went out."""
    sent = 0
    for tenant in svc.tenants.values():
        _close_stuck(svc, tenant.slug, now)
        due = _due(svc, tenant.slug, now)
        if due:
            sent += _send_all(svc, tenant, due, now)
    return sent


def _due(svc: Services, tenant: str, now: datetime) -> list[int]:
    with svc.store.session() as s:
        return list(s.scalars(
            select(MessageRow.id).where(MessageRow.tenant == tenant, MessageRow.state == "scheduled",
                                        MessageRow.send_at <= now).order_by(MessageRow.send_at).limit(BATCH)
        ))


def _close_stuck(svc: Services, tenant: str, now: datetime) -> None:
    with svc.store.session() as s:
        s.execute(update(MessageRow).where(
            MessageRow.tenant == tenant, MessageRow.state == "sending", MessageRow.sent_at < now - STUCK_AFTER
        ).values(state="failed", error="interrupted while sending; not sent again to avoid a duplicate"))


def _send_all(svc: Services, tenant: Tenant, ids: list[int], now: datetime) -> int:
    channels = build_channels(tenant, salesbot=_salesbot_client(svc, tenant))
    sent = 0
    for message_id in ids:
        sent += _send_one(svc, tenant, channels, message_id, now)
    return sent


def _salesbot_client(svc: Services, tenant: Tenant) -> Any:
    channels = tenant.rules.get("channels") if isinstance(tenant.rules, dict) else None
    if not (isinstance(channels, dict) and "salesbot" in channels):
        return None
    from bridge.amocrm.connect import client_for

    try:
        return client_for(tenant, svc)
    except AmoError as exc:
        log.warning("Salesbot unavailable for %s: %s", tenant.slug, exc)
        return None


def _send_one(svc: Services, tenant: Tenant, channels: dict, message_id: int, now: datetime) -> int:
    with svc.store.session() as s:
        row = s.get(MessageRow, message_id)
        client = s.get(Client, row.client_id)
        contact = links.get(s, tenant.slug, "contact", str(client.id))
        send = _as_action(row)
        to = Recipient(phone=client.phone, email=client.email, amo_contact_id=contact)
        opted_out = client.opted_out and kind_of(row.template) != TRANSACTIONAL  # as the rules decide it
        link = client_link(svc.settings.secret_key, svc.settings.public_url, tenant.slug, str(client.id), "client-page",
                           now + LINK_LIFETIME)
    if opted_out:  # decided again at sending time: the client may have opted out after it was planned
        return _finish(svc, message_id, "skipped", now, error="the client opted out")
    try:
        rendered = render_for(tenant, send, link)
    except TemplateProblem as exc:
        return _finish(svc, message_id, "skipped", now, error=str(exc))
    channel = pick_channel(send.channels, channels, to)
    if isinstance(channel, NoChannel):
        return _finish(svc, message_id, "skipped", now, error=channel.reason)
    with svc.store.session() as s:  # before: from here on a crash must not lead to a second send
        s.execute(update(MessageRow).where(MessageRow.id == message_id).values(
            state="sending", sent_at=now, attempts=MessageRow.attempts + 1, channel=channel.name))
    outgoing = OutgoingMessage(send.key, tenant.slug, send.client_id, send.template, to, rendered.text,
                               rendered.subject)
    try:
        result = channel.send(outgoing)
    except ChannelError as exc:
        return _failed(svc, message_id, exc, now)
    _finish(svc, message_id, "sent", now, provider_id=result.provider_id)
    _log_in_amocrm(svc, tenant, send, channel.name, rendered.text, now)
    return 1


def _as_action(row: MessageRow) -> SendMessage:
    return SendMessage(key=row.key, client_id=str(row.client_id), template=row.template, language=row.language,
                       occasion=row.occasion, channels=tuple(row.channels), context=dict(row.context),
                       send_at=row.send_at, marketing=row.marketing, booking_id=row.booking_id)


def _failed(svc: Services, message_id: int, exc: ChannelError, now: datetime) -> int:
    with svc.store.session() as s:
        row = s.get(MessageRow, message_id)
        if exc.retryable and not exc.ambiguous and row.attempts <= len(RETRY_AFTER):
            row.state, row.send_at = "scheduled", now + RETRY_AFTER[row.attempts - 1]
        else:
            row.state = "failed"
        row.error = str(exc)[:2000]
    log.warning("message %s via %s: %s", message_id, exc.channel, exc)
    return 0


def _finish(svc: Services, message_id: int, state: str, now: datetime, *, error: str | None = None,
            provider_id: str | None = None) -> int:
    with svc.store.session() as s:
        s.execute(update(MessageRow).where(MessageRow.id == message_id).values(
            state=state, error=error, provider_id=provider_id, sent_at=now if state == "sent" else None))
    if error:
        log.info("message %s %s: %s", message_id, state, error)
    return 0


def _log_in_amocrm(svc: Services, tenant: Tenant, send: SendMessage, channel: str, text: str, now: datetime) -> None:
    """Every message is visible on the client's amoCRM contact, as a note (applied by the CRM sync)."""
    note = AddNote(key=f"note:{send.key}", client_id=send.client_id,
                   text=f"{CHANNEL_NAMES.get(channel, channel)} → {send.template}:\n{text}")
    with svc.store.session() as s:
        _, crm_work = record_actions(s, tenant.slug, None, int(send.client_id), [note], now)
    if crm_work:
        svc.queue.enqueue_crm_sync(tenant.slug)
