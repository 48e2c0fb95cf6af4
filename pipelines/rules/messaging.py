"""Building a SendMessage: one send per (client, template, occasion) ever, opt-out, reachability,
quiet hours and the frequency cap, decided the same way for every rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from pipelines.actions import Action, CancelMessage, SendMessage, Skip
from pipelines.rules.context import Scene
from pipelines.templates import MARKETING, TRANSACTIONAL, kind_of
from pipelines.timing import after_frequency_cap, after_quiet_hours


def message_key(template: str, client_id: str, occasion: str) -> str:
    return f"msg:{template}:{client_id}:{occasion}"


def message(
    scene: Scene,
    template: str,
    occasion: str,
    context: Mapping[str, str | None],
    *,
    booking_id: str | None = None,
    send_at: datetime | None = None,
) -> Action:
    """A SendMessage, or a Skip saying why the client cannot get it."""
    key = message_key(template, scene.client.id, occasion)
    reason = blocked(scene, template)
    if reason:
        return Skip(key=f"skip:{key}", rule=template, reason=reason)
    kind = kind_of(template)
    return SendMessage(
        key=key,
        client_id=scene.client.id,
        template=template,
        language=scene.language,
        occasion=occasion,
        channels=scene.policy.channels,
        context={k: v or "" for k, v in context.items()},
        send_at=_when(scene, kind, send_at),
        marketing=kind == MARKETING,
        booking_id=booking_id,
    )


def per_channel(scene: Scene, template: str, occasion: str, context: Mapping[str, str | None],
                channels: tuple[str, ...]) -> list[Action]:
    """One message per channel asked (``both``: SMS and email), each its own send under the same rules."""
    out: list[Action] = []
    for channel in channels:
        action = message(scene, template, f"{occasion}:{channel}", context)
        if isinstance(action, SendMessage):
            action = dataclasses.replace(action, channels=(channel,))
        out.append(action)
    return out


def blocked(scene: Scene, template: str) -> str | None:
    if not scene.client.reachable:
        return "client has neither phone nor email: no messages (CRM work still done)"
    if scene.client.opted_out and kind_of(template) != TRANSACTIONAL:
        return "client opted out of messages"
    if scene.client.blacklisted and kind_of(template) != TRANSACTIONAL:
        return "client is blacklisted: only messages about their own bookings"
    return None


def _when(scene: Scene, kind: str, send_at: datetime | None) -> datetime | None:
    """Transactional: as asked. Service: out of quiet hours. Marketing: also behind the cap."""
    if kind == TRANSACTIONAL:
        return send_at
    at = send_at or scene.now
    if kind == MARKETING:
        at = max(at, after_frequency_cap(scene.snapshot.marketing_sent_at, scene.policy, scene.now))
    at = after_quiet_hours(at, scene.policy)
    return None if at == scene.now else at


def cancel_pending(scene: Scene, template: str, booking_id: str, stamp: str, reason: str) -> CancelMessage:
    return CancelMessage(
        key=f"cancel:{template}:{scene.client.id}:{stamp}",
        client_id=scene.client.id,
        template=template,
        booking_id=booking_id,
        reason=reason,
    )
