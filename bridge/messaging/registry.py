"""A tenant's channels, and the choice of one for a message: the first in the SendMessage's
preference that is configured and can reach the client; otherwise ``NoChannel`` with every reason."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from bridge.messaging.base import Channel, Recipient
from bridge.messaging.email import EmailChannel
from bridge.messaging.salesbot import SalesbotChannel, SalesbotLauncher
from bridge.messaging.settings import ChannelConfigError, ChannelSettings, parse_channels
from bridge.messaging.sms import SmsChannel
from bridge.messaging.template_check import check_templates

if TYPE_CHECKING:
    from config.tenants import Tenant

NEEDS = {"sms": "phone number", "email": "email address", "salesbot": "phone number or no amoCRM contact"}


@dataclass(frozen=True)
class NoChannel:
    """No channel can carry the message; ``reason`` names each channel tried and why not."""

    reason: str


def channel_settings(tenant: Tenant) -> ChannelSettings:
    """The tenant's ``rules.channels``; raises ChannelConfigError listing every problem."""
    settings, problems = parse_channels(tenant.rules.get("channels"))
    if problems:
        raise ChannelConfigError(problems)
    return settings


def build_channels(
    tenant: Tenant,
    *,
    salesbot: SalesbotLauncher | None = None,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """Every configured channel by name. Salesbot only with a ``salesbot`` launcher (an AmoCrmClient)."""
    settings = channel_settings(tenant)
    channels: dict[str, Channel] = {}
    if settings.sms:
        channels["sms"] = SmsChannel(settings.sms, session=session, environ=environ)
    if settings.email:
        channels["email"] = EmailChannel(settings.email, fallback_subject=tenant.name, environ=environ)
    if settings.salesbot and salesbot is not None:
        channels["salesbot"] = SalesbotChannel(settings.salesbot, salesbot)
    return channels


def check_messaging(tenant: Tenant, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Every (path, message) about the tenant's channels, templates and their secrets, for ``salonbridge check``."""
    env = os.environ if environ is None else environ
    settings, problems = parse_channels(tenant.rules.get("channels"))
    problems += check_templates(tenant.rules.get("templates"))
    unset = [(path, name) for path, name in settings.secret_envs().items() if not env.get(name)]
    problems += [(path, f"environment variable {name} is not set") for path, name in unset]
    return problems


def pick_channel(preference: Sequence[str], channels: Mapping[str, Channel], to: Recipient) -> Channel | NoChannel:
    reasons: list[str] = []
    for name in preference:
        channel = channels.get(name)
        if channel is None:
            reasons.append(f"{name}: not configured")
        elif not channel.can_reach(to):
            reasons.append(f"{name}: the client has no {NEEDS.get(name, 'address for it')}")
        else:
            return channel
    return NoChannel("; ".join(reasons) or "no channel in the preference list")
