"""Reconnect campaigns (seed 004): who a campaign would contact, and contacting them.

``preview`` runs the Reconnect scan and picks the at-risk clients of one category (or of all: each
client once, for the category they are most overdue in), leaving out those already contacted for the
same lateness (same category, same last visit). ``send`` plans each client's contact under the
client's row lock with ``pipelines.rules.reconnect.first_contact`` and records it like any plan: the
messages go out through the clock's sender (quiet hours, frequency cap, opt-out), the note, lead and
task through the amoCRM sync, and the client's wake-up is set so the clock decides the follow-up.

The CLI (``salonbridge reconnect send``) and the JSON API both call these two functions; ``contact_each``
is the sending loop every campaign shares (segment campaigns too, ``bridge.segment_campaigns``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bridge.store import actions, playbook, visits, wakeups
from bridge.store.db import Store
from bridge.store.models import ReconnectContactRow
from bridge.store.reconnect import ClientAtRisk, UnknownFilter, scan
from config.reconnect import CHANNELS
from config.tenants import Tenant
from pipelines.actions import Action
from pipelines.catalog import category_label
from pipelines.events import jsonable
from pipelines.planner import reconnect_contact
from pipelines.policy import Policy
from pipelines.reconnect import about_to_be_at_risk, at_risk
from pipelines.rules.reconnect import Target, contact_key
from pipelines.snapshot import Snapshot

log = logging.getLogger(__name__)
__all__ = ["CHANNELS", "Campaign", "Recipient", "UnknownFilter", "preview", "send"]


@dataclass(frozen=True)
class Recipient:
    client: ClientAtRisk
    target: Target

    def row(self) -> dict[str, Any]:
        c, t = self.client, self.target
        return jsonable({
            "client_id": c.client_id, "name": c.contact.name, "phone": c.contact.phone, "email": c.contact.email,
            "category": t.category, "category_label": t.category_label, "branch": t.branch,
            "last_visit": t.last_visit, "expected": t.expected, "days_late": t.days_late, "channels": list(t.channels),
        })


@dataclass(frozen=True)
class Campaign:
    tenant: Tenant
    now: datetime
    category: str | None  # None: every category
    channel: str
    recipients: tuple[Recipient, ...]
    already_contacted: int  # at risk, but already contacted for this very lateness
    unreachable: int  # at risk, but no address for the channel asked

    def label(self) -> str | None:
        return category_label(self.category, self.tenant.language) if self.category else None

    def summary(self) -> dict[str, Any]:
        return {"tenant": self.tenant.slug, "category": self.category, "category_label": self.label(),
                "channel": self.channel,
                "recipients": len(self.recipients), "already_contacted": self.already_contacted,
                "unreachable": self.unreachable, "follow_up_after_days": self.tenant.reconnect.follow_up_after_days}


def _channels(asked: str, phone: str | None, email: str | None) -> tuple[str, ...]:
    wanted = ("sms", "email") if asked == "both" else (asked,)
    return tuple(c for c in wanted if (c == "sms" and phone) or (c == "email" and email))


def preview(store: Store, tenant: Tenant, now: datetime, *, category: str | None, channel: str | None = None,
            predicted: bool = False) -> Campaign:
    """Who a campaign for ``category`` (None: all categories) would contact now; raises UnknownFilter.

    ``predicted``: the predicted-time mode's choice instead of the at-risk clients: those who become
    at risk within ``reconnect.predicted_time.lead_days``.
    """
    channel = channel or tenant.reconnect.channel
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
    lead_days = tenant.reconnect.predicted_time.lead_days
    result = scan(store, tenant, now, category=category,
                  choose=(lambda items: about_to_be_at_risk(items, lead_days)) if predicted else at_risk)
    chosen: dict[int, ClientAtRisk] = {}
    for c in result.clients:  # most overdue first within a category; across categories keep the most overdue
        best = chosen.get(c.client_id)
        if best is None or c.assessment.days_late > best.assessment.days_late:
            chosen[c.client_id] = c
    done = _contacted_keys(store, tenant.slug, list(chosen))
    recipients, already, unreachable = [], 0, 0
    for c in sorted(chosen.values(), key=lambda c: (c.assessment.history.category, -c.assessment.days_late,
                                                    c.client_id)):
        a = c.assessment
        if contact_key(str(c.client_id), a.history.category, a.history.last_visit) in done:
            already += 1
            continue
        target = Target(a.history.category, result.label(a.history.category), a.history.branch,
                        a.history.last_visit, a.expected, a.days_late,
                        _channels(channel, c.contact.phone, c.contact.email))
        if not target.channels:
            unreachable += 1
            continue
        recipients.append(Recipient(c, target))
    return Campaign(tenant, now, result.category, channel, tuple(recipients), already, unreachable)


def _contacted_keys(store: Store, tenant: str, client_ids: list[int]) -> set[str]:
    if not client_ids:
        return set()
    keys: set[str] = set()
    with store.reading() as conn:
        for start in range(0, len(client_ids), 500):
            chunk = client_ids[start:start + 500]
            keys.update(conn.scalars(select(ReconnectContactRow.key).where(
                ReconnectContactRow.tenant == tenant, ReconnectContactRow.client_id.in_(chunk))))
    return keys


@dataclass(frozen=True)
class Sent:
    campaign: str
    contacted: int  # clients with a first message planned
    messages: int
    skipped: list[dict[str, Any]]  # client id and reason

    def summary(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "contacted": self.contacted, "messages": self.messages,
                "skipped": self.skipped}


@dataclass(frozen=True)
class Contacted:
    client_id: int
    planned: list[Action] | None  # None: the client no longer exists
    fresh: tuple[Action, ...]  # what was recorded (a key seen before is not)


def contact_each(store: Store, tenant: str, client_ids: Iterable[int],
                 plan_one: Callable[[int, Snapshot], list[Action]], now: datetime, *, wake: bool,
                 progress: Callable[[int], object] | None = None) -> Iterator[Contacted]:
    """Plan and record each client's contact under the client's row lock, one transaction per client (a
    crash keeps those done; a key recorded before is not recorded again). ``wake``: the clock looks at
    each contacted client again (a follow-up to time). Every campaign sends through this."""
    for client_id in client_ids:
        with store.session() as s:
            client = visits.lock_client(s, tenant, client_id)
            if client is None:
                yield Contacted(client_id, None, ())
                continue
            planned = plan_one(client_id, playbook.snapshot_for(s, client, None))
            recorded = actions.record(s, tenant, None, client_id, planned, now)
            if recorded.fresh and wake:
                wakeups.set_wakeup(s, client_id, now)
        if progress is not None:
            progress(1)
        yield Contacted(client_id, planned, tuple(recorded.fresh))


def send(store: Store, campaign: Campaign, policy: Policy, now: datetime, *, prefix: str = "rc",
         progress: Callable[[int], object] | None = None) -> Sent:
    """Contact every recipient of ``campaign``; ``progress(1)`` is called after each client (the CLI's bar)."""
    campaign_id = f"{prefix}-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    targets = {r.client.client_id: r.target for r in campaign.recipients}
    contacted = messages = 0
    skipped: list[dict[str, Any]] = []
    plan_one = lambda cid, snapshot: reconnect_contact(snapshot, policy, now, targets[cid], campaign_id)  # noqa: E731
    for done in contact_each(store, campaign.tenant.slug, targets, plan_one, now, wake=True, progress=progress):
        if done.planned is None:
            skipped.append({"client_id": done.client_id, "reason": "client no longer exists"})
            continue
        kinds = [a.kind for a in done.fresh]
        sent = kinds.count("SendMessage")
        if "RecordReconnectContact" in kinds and sent:
            contacted += 1
            messages += sent
        else:
            reasons = [getattr(a, "reason", "") for a in done.planned if a.kind == "Skip"]
            skipped.append({"client_id": done.client_id, "reason": "; ".join(reasons) or "already contacted"})
    log.info("reconnect campaign %s of %s: %d clients contacted, %d messages, %d skipped", campaign_id,
             campaign.tenant.slug, contacted, messages, len(skipped))
    return Sent(campaign_id, contacted, messages, skipped)
