"""What an operator does with a segment besides exporting it: tag its clients in amoCRM, or send it a
message campaign. The CLI (``salonbridge clients tag|send``) and the JSON API both call these.

Tagging adds the tags to each client's card here and queues an ``UpdateFields`` with them for the
contact, so the amoCRM sync adds them (``tags_to_add``, people's own tags kept) in its batched contact
updates, up to 50 contacts a request.

A campaign leaves out, before anything is planned, blacklisted and opted-out clients and those with no
address for the channel asked (each counted); the others are contacted through the same loop as
Reconnect campaigns (``bridge.campaigns.contact_each``), and the rule (``pipelines.rules.campaign``)
checks opt-out and the blacklist again under the client's lock. The messages go out with the clock's
sender (quiet hours, frequency cap) and each becomes a note on the amoCRM contact.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bridge.campaigns import CHANNELS, contact_each
from bridge.client_card import card_values
from bridge.store import actions
from bridge.store.clients import run_segment
from bridge.store.db import Store
from bridge.store.models import Client
from config.tenants import Tenant
from pipelines.actions import UpdateFields
from pipelines.planner import segment_contact
from pipelines.policy import Policy
from pipelines.segments import Segment

log = logging.getLogger(__name__)
CHUNK = 500  # clients tagged per transaction
MAX_TEXT = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")


class CampaignError(ValueError):
    """A campaign or tagging request that cannot run as asked; ``field`` names the option."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


# --- tags --------------------------------------------------------------------------------------------------


def tag(store: Store, tenant: Tenant, segment: Segment, tags: Iterable[str], now: datetime) -> dict[str, int]:
    """Add ``tags`` to every client of the segment, here and on their amoCRM contacts (queued)."""
    wanted = card_values(tenant, {"tags": list(tags)}).get("tags") if tags else None
    if not wanted:
        raise CampaignError("tags", "give at least one tag")
    with store.reading() as conn:
        ids = [row.id for row in run_segment(conn, tenant.slug, segment, tenant.timezone)]
    stamp, added = now.isoformat(), 0
    for start in range(0, len(ids), CHUNK):
        with store.session() as s:
            for client in s.scalars(select(Client).where(Client.id.in_(ids[start:start + CHUNK]))):
                have = set(client.tags or ())
                if not set(wanted) <= have:
                    client.tags = sorted(have | set(wanted))
                    added += 1
                action = UpdateFields(key=f"tags:{client.id}:{','.join(wanted)}:{stamp}", client_id=str(client.id),
                                      tags=tuple(wanted))
                actions.record(s, tenant.slug, None, client.id, [action], now)
    log.info("segment of %s tagged %s: %d clients (%d newly)", tenant.slug, ",".join(wanted), len(ids), added)
    return {"clients": len(ids), "newly_tagged": added}


# --- message campaigns -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    client_id: int
    name: str | None
    phone: str | None
    email: str | None
    channels: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "name": self.name, "phone": self.phone, "email": self.email,
                "channels": list(self.channels)}


@dataclass(frozen=True)
class Audience:
    """Who a segment campaign would message, and who it leaves out and why (counts)."""

    tenant: Tenant
    name: str
    text: str
    channel: str
    recipients: tuple[Recipient, ...]
    blacklisted: int
    opted_out: int
    unreachable: int

    def summary(self) -> dict[str, Any]:
        return {"tenant": self.tenant.slug, "campaign": self.name, "channel": self.channel,
                "recipients": len(self.recipients), "left_out": {"blacklisted": self.blacklisted,
                                                                 "opted_out": self.opted_out,
                                                                 "no_address": self.unreachable}}


def audience(store: Store, tenant: Tenant, segment: Segment, *, name: str, text: str,
             channel: str | None = None) -> Audience:
    """The segment's clients a campaign would message (CampaignError for a bad name, text or channel)."""
    if not _NAME.match(name or ""):
        raise CampaignError("name", "1-60 letters, digits, '.', '_' or '-' (it keeps a campaign from going twice)")
    text = " ".join((text or "").split())
    if not text or len(text) > MAX_TEXT:
        raise CampaignError("text", f"give the message text, at most {MAX_TEXT} characters")
    channel = channel or tenant.reconnect.channel
    if channel not in CHANNELS:
        raise CampaignError("channel", f"one of {', '.join(CHANNELS)}")
    wanted = ("sms", "email") if channel == "both" else (channel,)
    recipients: list[Recipient] = []
    counts = {"blacklisted": 0, "opted_out": 0, "unreachable": 0}
    with store.reading() as conn:
        for row in run_segment(conn, tenant.slug, segment, tenant.timezone):
            channels = tuple(c for c in wanted if (c == "sms" and row.phone) or (c == "email" and row.email))
            reason = ("blacklisted" if row.blacklisted else "opted_out" if row.opted_out
                      else "unreachable" if not channels else None)
            if reason:
                counts[reason] += 1
                continue
            recipients.append(Recipient(row.id, row.name, row.phone, row.email, channels))
    return Audience(tenant, name, text, channel, tuple(recipients), **counts)


@dataclass(frozen=True)
class Sent:
    contacted: int
    messages: int
    skipped: list[dict[str, Any]]  # client id and reason (already sent this campaign, opted out meanwhile...)

    def summary(self) -> dict[str, Any]:
        return {"contacted": self.contacted, "messages": self.messages, "skipped": self.skipped}


def send(store: Store, chosen: Audience, policy: Policy, now: datetime, *,
         progress: Callable[[int], object] | None = None) -> Sent:
    """Plan the campaign's message to every recipient; the clock's sender sends them."""
    by_id = {r.client_id: r for r in chosen.recipients}

    def plan_one(client_id: int, snapshot: Any) -> list:
        return segment_contact(snapshot, policy, now, chosen.name, chosen.text, by_id[client_id].channels)

    contacted = messages = 0
    skipped: list[dict[str, Any]] = []
    for done in contact_each(store, chosen.tenant.slug, by_id, plan_one, now, wake=False, progress=progress):
        sent = sum(1 for a in done.fresh if a.kind == "SendMessage")
        if sent:
            contacted, messages = contacted + 1, messages + sent
            continue
        reasons = [getattr(a, "reason", "") for a in done.planned or () if a.kind == "Skip"]
        reason = "client no longer exists" if done.planned is None else "; ".join(reasons) or "already sent"
        skipped.append({"client_id": done.client_id, "reason": reason})
    log.info("segment campaign %s of %s: %d clients, %d messages, %d skipped", chosen.name, chosen.tenant.slug,
             contacted, messages, len(skipped))
    return Sent(contacted, messages, skipped)
