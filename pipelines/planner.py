"""The two entry points: ``plan`` (a booking event arrived) and ``due`` (the clock ticked for a client).

Both are pure and deterministic for a fixed ``now``. Both drop actions whose key is already in
``snapshot.applied`` (and repeats within one plan), so a redelivered event or the next clock tick
plans nothing new; the executor checks keys again before carrying anything out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime

from pipelines.actions import Action, CancelMessage, RecordVisit, SendMessage, Skip
from pipelines.catalog import booking_categories
from pipelines.events import BookingStatus, VisitEvent
from pipelines.fold import fold
from pipelines.policy import Policy
from pipelines.rules import autotask, birthday, campaign, lost, prepayment, reconnect, repeat, sales, service_messages
from pipelines.rules.context import Occasion, Scene
from pipelines.snapshot import Snapshot
from pipelines.transitions import Transition, is_stale, transitions

# Order matters where one rule's lead closes before another's opens (Repeat won, then a new one).
EVENT_RULES: tuple[Callable[[Occasion], list[Action]], ...] = (
    lost.on_event,
    reconnect.on_event,
    repeat.on_event,
    sales.on_event,
    autotask.on_event,
    service_messages.on_event,
)
CLOCK_RULES: tuple[Callable[[Scene], list[Action]], ...] = (
    repeat.on_clock, lost.on_clock, reconnect.on_clock, birthday.on_clock,
)


def plan(event: VisitEvent, snapshot: Snapshot, policy: Policy, now: datetime) -> list[Action]:
    """Actions caused by ``event`` given what is stored; deterministic for a fixed ``now``.

    A stale snapshot (older than the stored one) and a snapshot that changes nothing both plan nothing.
    A booking without a client gets only its bookkeeping (RecordVisit). A visit first seen already
    completed (or missed, or cancelled) is its booking's creation and then its completion: planned as those two
    steps, the second against the state the first leaves, so it ends as if the creation had arrived first (a
    cancelled one without the creation's messages to the client).
    """
    if is_stale(snapshot.visit, event):
        return []
    if snapshot.visit is None and snapshot.client is not None and event.booking.status in _OVER \
            and not event.is_history:
        return _fresh(_booked_then_over(event, snapshot, policy, now), snapshot.applied)
    return _fresh(_plan_one(event, snapshot, policy, now), snapshot.applied)


# A cancelled booking first seen as such was booked too: its creation is planned without messages to the
# client (nothing is confirmed, nothing welcomed for a booking known to be cancelled), then its cancellation.
_OVER = (BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.CANCELLED)


def _plan_one(event: VisitEvent, snapshot: Snapshot, policy: Policy, now: datetime) -> list[Action]:
    steps = transitions(snapshot.visit, event.booking)
    if not steps:
        return []
    categories = booking_categories(event.booking.services, policy)
    booking_id = event.booking.external_id
    key = f"visit:{event.source}:{booking_id}:{event.occurred_at.isoformat()}"
    actions: list[Action] = [RecordVisit(key=key, booking_id=booking_id, transitions=steps, categories=categories)]
    if snapshot.client is not None:
        actions += _playbook(event, snapshot, policy, now, steps, categories)
    return actions


def _booked_then_over(event: VisitEvent, snapshot: Snapshot, policy: Policy, now: datetime) -> list[Action]:
    """The creation (as a scheduled booking), then the completion, no-show or cancellation; one RecordVisit for
    both."""
    booked = dataclasses.replace(event, booking=dataclasses.replace(event.booking, status=BookingStatus.SCHEDULED))
    first = _plan_one(booked, snapshot, policy, now)
    if event.booking.status is BookingStatus.CANCELLED:
        first = [a for a in first if not isinstance(a, SendMessage | CancelMessage)]
    after = fold(snapshot, first, booked, now)
    second = _plan_one(event, after, policy, now)
    if event.booking.status is BookingStatus.CANCELLED:
        second = [a for a in second if not isinstance(a, CancelMessage)]  # none was scheduled
    records = [a for a in (*first, *second) if isinstance(a, RecordVisit)]
    record = dataclasses.replace(records[0], transitions=tuple(t for r in records for t in r.transitions))
    return [record, *(a for a in (*first, *second) if not isinstance(a, RecordVisit))]


def due(snapshot: Snapshot, policy: Policy, now: datetime) -> list[Action]:
    """Time-based actions for one client (repeat reminders, promo, lost-client sequence, birthday) at ``now``."""
    if snapshot.client is None:
        return []
    scene = Scene(snapshot=snapshot, policy=policy, now=now, client=snapshot.client)
    return _fresh((a for rule in CLOCK_RULES for a in rule(scene)), snapshot.applied)


def reconnect_contact(snapshot: Snapshot, policy: Policy, now: datetime, target: reconnect.Target,
                      campaign: str) -> list[Action]:
    """A Reconnect campaign contacts one client (the operator's command): the first message and its CRM work."""
    if snapshot.client is None:
        return []
    scene = Scene(snapshot=snapshot, policy=policy, now=now, client=snapshot.client)
    return _fresh(reconnect.first_contact(scene, target, campaign), snapshot.applied)


def segment_contact(snapshot: Snapshot, policy: Policy, now: datetime, name: str, text: str,
                    channels: tuple[str, ...]) -> list[Action]:
    """A segment's message campaign reaches one client (the operator's command)."""
    if snapshot.client is None:
        return []
    scene = Scene(snapshot=snapshot, policy=policy, now=now, client=snapshot.client)
    return _fresh(campaign.segment_message(scene, name, text, channels), snapshot.applied)


def _playbook(
    event: VisitEvent,
    snapshot: Snapshot,
    policy: Policy,
    now: datetime,
    steps: tuple[Transition, ...],
    categories: tuple[str, ...],
) -> list[Action]:
    client = snapshot.client
    assert client is not None
    if event.client is not None and event.client.is_reachable and not client.reachable:
        client = dataclasses.replace(client, reachable=True)
    occasion = Occasion(
        snapshot=snapshot, policy=policy, now=now, client=client, event=event, steps=steps, categories=categories
    )
    if occasion.first_seen_cancelled:
        reason = f"booking {occasion.booking_id} first seen already cancelled: nothing to confirm or cancel"
        return [Skip(key=f"skip:out_of_order:{client.id}:{occasion.stamp}", rule="plan", reason=reason)]
    actions = [a for rule in EVENT_RULES for a in rule(occasion)]
    # Prepayment goes last and sees the plan: its field goes on the lead this very event may have created.
    return actions + prepayment.on_event(occasion, actions)


def _fresh(actions: Iterable[Action], applied: frozenset[str]) -> list[Action]:
    """Actions not yet applied, first occurrence of each key, in planning order."""
    seen = set(applied)
    out: list[Action] = []
    for action in actions:
        if action.key not in seen:
            seen.add(action.key)
            out.append(action)
    return out
