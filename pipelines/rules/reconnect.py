"""Reconnect campaigns (seed 004, DESIGN §6 rule 9): the first message on command, the follow-up by the clock.

``first_contact`` plans one client's contact when an operator sends a campaign (``salonbridge reconnect
send`` or the API): the first message on each chosen channel, a note on the amoCRM contact, and where the
tenant asks for them a Lost clients lead and/or a call task, plus the bookkeeping row the follow-up and
the results report read. Messages are marketing: opt-out, quiet hours and the frequency cap apply
(``rules.messaging.message``).

``on_event``, once the client books again, drops a Reconnect message still held back and wins the
Lost clients lead a campaign opened.

``on_clock`` sends the follow-up ``reconnect.follow_up_after_days`` after the contact unless the client
rebooked in the meantime: any booking still to come (any category, any branch, as for the flag), or a
booking that counts for the category made since the contact and not cancelled.

Keys: one contact per (client, category, last visit) ever, so sending the same campaign twice, or a
second campaign before the client came back, contacts nobody twice; after a new visit the client can
be contacted again when late again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pipelines.actions import (
    Action,
    AddNote,
    CancelMessage,
    CreateTask,
    RecordReconnectContact,
    RecordReconnectFollowUp,
    SendMessage,
    Skip,
    TaskKind,
)
from pipelines.catalog import category_label
from pipelines.events import BookingStatus
from pipelines.policy import Policy
from pipelines.rules.context import Occasion, Scene
from pipelines.rules.leads import create_lead, move_lead
from pipelines.rules.messaging import per_channel
from pipelines.snapshot import LeadStatus, ReconnectContact
from pipelines.stages import WON, Pipeline
from pipelines.texts import local_date, text

FIRST, FOLLOW_UP = "reconnect_first", "reconnect_follow_up"
CHANNEL_LABELS = {"sms": "SMS", "email": "email"}


@dataclass(frozen=True)
class Target:
    """One client to contact, as the Reconnect scan found them (pure values)."""

    category: str
    category_label: str
    branch: str | None
    last_visit: date
    expected: date
    days_late: int
    channels: tuple[str, ...]  # the channels chosen for this client (those it has an address for)


def contact_key(client_id: str, category: str, last_visit: date) -> str:
    return f"reconnect:{client_id}:{category}@{last_visit.isoformat()}"


def first_contact(scene: Scene, target: Target, campaign: str) -> list[Action]:
    """The actions of one client's first Reconnect contact (no-op keys when already contacted)."""
    client, policy, now = scene.client, scene.policy, scene.now
    key = contact_key(client.id, target.category, target.last_visit)
    if scene.snapshot.upcoming(now):
        return [Skip(key=f"skip:{key}:booked", rule="reconnect",
                     reason="the client has booked since the scan: not contacted")]
    if not target.channels:
        return [Skip(key=f"skip:{key}:no_channel", rule="reconnect", reason="no phone or email for the channel asked")]
    occasion = f"{target.category}@{target.last_visit.isoformat()}"
    context = {"name": client.name, "service": target.category_label, "branch": policy.branch_label(target.branch),
               "date": local_date(context_day(target.last_visit, policy), policy.timezone, policy.language)}
    sends = per_channel(scene, FIRST, occasion, context, target.channels)
    settings = policy.reconnect
    follow_up_at = None
    if settings.follow_up_after_days is not None:
        follow_up_at = now + timedelta(days=settings.follow_up_after_days)
    sent = [a for a in sends if isinstance(a, SendMessage)]
    actions: list[Action] = list(sends)
    note = text("reconnect_note", policy.language, category=target.category_label,
                date=local_date(context_day(target.last_visit, policy), policy.timezone, policy.language),
                expected=local_date(context_day(target.expected, policy), policy.timezone, policy.language),
                days=target.days_late,
                channels=", ".join(CHANNEL_LABELS.get(c, c) for c in target.channels) if sent else "—",
                follow_up=local_date(follow_up_at, policy.timezone, policy.language) if follow_up_at else "—")
    actions.append(AddNote(key=f"note:{key}", client_id=client.id, text=note))
    lead_key = None
    if settings.create_lost_lead and scene.snapshot.open_lead(Pipeline.LOST) is None:
        lead_key = f"lead:{key}"
        last = next((v for v in scene.snapshot.completed() if target.category in v.categories), None)
        actions.append(create_lead(scene, Pipeline.LOST, "reminder", lead_key, last,
                                   policy.responsible_for(target.branch)))
    if settings.create_call_task:
        body = text("reconnect_call", policy.language, client=client.name or client.id,
                    category=target.category_label,
                    date=local_date(context_day(target.last_visit, policy), policy.timezone, policy.language),
                    days=target.days_late)
        actions.append(CreateTask(key=f"task:{key}", client_id=client.id, task_kind=TaskKind.RECONNECT_CALL,
                                  text=body, deadline=now, responsible=policy.responsible_for(target.branch),
                                  lead_key=lead_key))
    actions.append(RecordReconnectContact(
        key=key, client_id=client.id, campaign=campaign, category=target.category, branch=target.branch,
        channels=tuple(a.channels[0] for a in sent), last_visit=target.last_visit.isoformat(),
        days_late=target.days_late, contacted_at=now, follow_up_at=follow_up_at if sent else None,
        message_keys=tuple(a.key for a in sent)))
    return actions


def context_day(day: date, policy: Policy) -> datetime:
    """Noon of a local date, so ``local_date`` shows that very date in the tenant's zone."""
    return datetime.combine(day, time(12), policy.timezone)


def on_event(o: Occasion) -> list[Action]:
    """The client books again: a Reconnect message still held back (quiet hours, the cap) is dropped, and
    the Lost clients lead a campaign opened is won (unless a person took it over)."""
    if not o.arrives:
        return []
    actions: list[Action] = []
    if o.snapshot.reconnect:  # a contact whose follow-up is open: its messages may still be waiting
        reason = f"the client booked ({o.booking_id}) before it went out"
        actions += [CancelMessage(key=f"cancel:{template}:{o.client.id}:{o.stamp}", client_id=o.client.id,
                                  template=template, booking_id=None, reason=reason) for template in (FIRST, FOLLOW_UP)]
    return actions + [move_lead(o, lead, WON, o.stamp) for lead in o.snapshot.leads
                      if lead.key.startswith("lead:reconnect:") and lead.status is LeadStatus.OPEN and not lead.manual]


def rebooked(scene: Scene, contact: ReconnectContact) -> str | None:
    """Why the client needs no follow-up (they rebooked), or None."""
    if scene.snapshot.upcoming(scene.now):
        return "the client has a booking to come"
    for visit in scene.snapshot.client_visits:
        if (visit.status is not BookingStatus.CANCELLED and contact.category in visit.categories
                and visit.start_at >= contact.contacted_at):
            return f"the client came back for {contact.category} (booking {visit.external_id})"
    return None


def on_clock(scene: Scene) -> list[Action]:
    out: list[Action] = []
    for contact in scene.snapshot.reconnect:
        if contact.follow_up_at is None or scene.now < contact.follow_up_at:
            continue
        out += _follow_up(scene, contact)
    return out


def _follow_up(scene: Scene, contact: ReconnectContact) -> list[Action]:
    done_key = f"{contact.key}:follow_up"
    reason = rebooked(scene, contact)
    if reason:
        return [RecordReconnectFollowUp(key=done_key, client_id=scene.client.id, contact_key=contact.key,
                                        state="skipped", reason=reason)]
    policy = scene.policy
    label = category_label(contact.category, policy.language)
    context = {"name": scene.client.name, "service": label, "branch": policy.branch_label(contact.branch)}
    occasion = contact.key.split(":", 2)[2]
    sends = per_channel(scene, FOLLOW_UP, occasion, context, contact.channels)
    sent = [a for a in sends if isinstance(a, SendMessage)]
    actions: list[Action] = list(sends)
    if sent:
        note = text("reconnect_follow_up_note", policy.language, category=label,
                    channels=", ".join(CHANNEL_LABELS.get(a.channels[0], a.channels[0]) for a in sent))
        actions.append(AddNote(key=f"note:{done_key}", client_id=scene.client.id, text=note))
    skipped = "; ".join(a.reason for a in sends if isinstance(a, Skip))
    actions.append(RecordReconnectFollowUp(key=done_key, client_id=scene.client.id, contact_key=contact.key,
                                           state="sent" if sent else "skipped", reason=skipped,
                                           message_keys=tuple(a.key for a in sent)))
    return actions
