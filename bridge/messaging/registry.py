"""Every message channel, declared once, and the choice of one for a message.

Each channel's module declares a ``ChannelType`` (name, label for the amoCRM note, settings schema, what
it needs from a client, constructor); ``CHANNEL_TYPES`` lists them, and the tenant file's
``rules.channels``, the sender and the notes all read this table. Adding a channel is one module plus
one line here (docs/extending.md). A message goes out through the first channel of its preference that
is configured and can reach the client; otherwise ``NoChannel`` says why for each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from bridge.messaging.base import Channel, ChannelDeps, ChannelType, Recipient
from bridge.messaging.email import EMAIL
from bridge.messaging.salesbot import SALESBOT
from bridge.messaging.sms import SMS

if TYPE_CHECKING:
    from config.tenants import Tenant

CHANNEL_TYPES: dict[str, ChannelType] = {kind.name: kind for kind in (SMS, EMAIL, SALESBOT)}


def settings_schemas() -> dict[str, Any]:
    """Channel name -> the schema of its settings, for the tenant file's vocabulary."""
    return {name: kind.settings for name, kind in CHANNEL_TYPES.items()}


def label(name: str) -> str:
    """How a channel is named in the amoCRM note of a sent message."""
    kind = CHANNEL_TYPES.get(name)
    return kind.label if kind else name


@dataclass(frozen=True)
class NoChannel:
    """No channel can carry the message; ``reason`` names each channel tried and why not."""

    reason: str


def uses_amocrm(tenant: Tenant) -> bool:
    """Whether one of the tenant's configured channels runs through its amoCRM account."""
    return any(CHANNEL_TYPES[n].uses_amocrm for n in tenant.rules.channels.configured if n in CHANNEL_TYPES)


def build_channels(
    tenant: Tenant,
    *,
    amocrm: Any = None,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """Every configured channel of the tenant by name (checked when its file was loaded).

    ``amocrm``: the tenant's AmoCrmClient, without which channels that run through amoCRM (Salesbot) are
    left out. Secrets are read from ``environ``, by default the tenant's (its Settings').
    """
    deps = ChannelDeps(tenant, tenant.environ if environ is None else environ, session, amocrm)
    channels: dict[str, Channel] = {}
    for name, settings in tenant.rules.channels.configured.items():
        kind = CHANNEL_TYPES.get(name)
        channel = kind.build(settings, deps) if kind else None
        if channel is not None:
            channels[name] = channel
    return channels


def pick_channel(preference: Sequence[str], channels: Mapping[str, Channel], to: Recipient) -> Channel | NoChannel:
    reasons: list[str] = []
    for name in preference:
        channel = channels.get(name)
        if channel is None:
            reasons.append(f"{name}: not configured")
        elif not channel.can_reach(to):
            needs = CHANNEL_TYPES[name].needs if name in CHANNEL_TYPES else "address for it"
            reasons.append(f"{name}: the client has no {needs}")
        else:
            return channel
    return NoChannel("; ".join(reasons) or "no channel in the preference list")
