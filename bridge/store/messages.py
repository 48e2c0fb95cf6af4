"""Scheduled messages: found by their send time (index ``ix_messages_due``), sent at most once each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bridge.store import links
from bridge.store.db import Store
from bridge.store.models import AppliedAction, Client, MessageRow
from pipelines.actions import SendMessage

STUCK_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Outgoing:
    """A due message with what sending it needs to know about its client."""

    id: int
    send: SendMessage
    phone: str | None
    email: str | None
    amo_contact_id: int | None
    opted_out: bool
    attempts: int


def due_ids(store: Store, tenant: str, now: datetime, limit: int) -> list[int]:
    with store.session() as s:
        return list(s.scalars(
            select(MessageRow.id).where(MessageRow.tenant == tenant, MessageRow.state == "scheduled",
                                        MessageRow.send_at <= now).order_by(MessageRow.send_at).limit(limit)
        ))


def close_stuck(store: Store, tenant: str, now: datetime) -> None:
    """A message still "sending" long after it started may have reached the client: never send it again."""
    with store.session() as s:
        s.execute(update(MessageRow).where(
            MessageRow.tenant == tenant, MessageRow.state == "sending", MessageRow.sent_at < now - STUCK_AFTER
        ).values(state="failed", error="interrupted while sending; not sent again to avoid a duplicate"))


def load(store: Store, tenant: str, message_id: int) -> Outgoing | None:
    with store.session() as s:
        row = s.get(MessageRow, message_id)
        if row is None or row.state != "scheduled":
            return None
        client = s.get(Client, row.client_id)
        send = SendMessage(key=row.key, client_id=str(row.client_id), template=row.template, language=row.language,
                           occasion=row.occasion, channels=tuple(row.channels), context=dict(row.context),
                           send_at=row.send_at, marketing=row.marketing, booking_id=row.booking_id)
        contact = links.get(s, tenant, "contact", str(client.id))
        return Outgoing(row.id, send, client.phone, client.email, contact, client.opted_out, row.attempts)


def mark_sending(store: Store, message_id: int, channel: str, now: datetime) -> None:
    """Committed before the message goes out: from here on a crash must not lead to a second send."""
    with store.session() as s:
        s.execute(update(MessageRow).where(MessageRow.id == message_id).values(
            state="sending", sent_at=now, attempts=MessageRow.attempts + 1, channel=channel))


def finish(store: Store, message_id: int, state: str, now: datetime, *, error: str | None = None,
           provider_id: str | None = None) -> None:
    with store.session() as s:
        s.execute(update(MessageRow).where(MessageRow.id == message_id).values(
            state=state, error=error, provider_id=provider_id, sent_at=now if state == "sent" else None))


def contact_owed(store: Store, tenant: str, client_id: int) -> bool:
    """The client's amoCRM contact is still to be found or created by the CRM sync (it lags behind under a
    backlog: amoCRM takes 7 requests a second), so a message that runs on it can wait for it."""
    with store.session() as s:
        return s.scalar(select(AppliedAction.id).where(
            AppliedAction.tenant == tenant, AppliedAction.client_id == client_id,
            AppliedAction.kind == "UpsertContact", AppliedAction.state == "pending").limit(1)) is not None


def retry_later(store: Store, message_id: int, at: datetime | None, error: str) -> None:
    """Back to "scheduled" at ``at``, or "failed" for good when ``at`` is None."""
    with store.session() as s:
        values = {"state": "scheduled", "send_at": at} if at else {"state": "failed"}
        s.execute(update(MessageRow).where(MessageRow.id == message_id).values(error=error[:2000], **values))
