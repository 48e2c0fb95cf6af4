"""The one interface every channel implements, and the values that cross it.

Kept free of any channel's details so the executor (and its tests) depend only on this module:
``channel.send(message) -> SendResult`` or ``ChannelError`` telling whether a retry can help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import requests

    from config.tenants import Tenant


@dataclass(frozen=True)
class Recipient:
    """Where a client can be reached; a channel uses the one it needs (phone E.164, email, amoCRM contact)."""

    phone: str | None = None
    email: str | None = None
    amo_contact_id: int | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one client. ``key`` is the SendMessage's idempotency key."""

    key: str
    tenant: str
    client_id: str
    template: str
    to: Recipient
    text: str
    subject: str | None = None  # email only; the channel falls back to its default subject


@dataclass(frozen=True)
class SendResult:
    channel: str
    provider_id: str | None  # the gateway's / SMTP Message-ID / Salesbot run id, for the amoCRM note


class ChannelError(Exception):
    """Sending failed. ``retryable``: the same message may succeed later (5xx, timeouts, SMTP 4xx).

    ``ambiguous``: the provider may have accepted the message before the failure (a read timeout), so a
    retry risks a duplicate; the executor decides whether that is acceptable for the template.
    Messages never contain a full phone number, email address or secret.
    """

    def __init__(self, message: str, *, channel: str, retryable: bool, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.channel, self.retryable, self.ambiguous = channel, retryable, ambiguous


class Channel(Protocol):
    name: str

    def can_reach(self, to: Recipient) -> bool:
        """Whether this channel has what it needs to address ``to`` (no network call)."""
        ...

    def send(self, message: OutgoingMessage) -> SendResult: ...


@dataclass(frozen=True)
class ChannelDeps:
    """What building a tenant's channel may need besides its settings."""

    tenant: Tenant
    environ: Mapping[str, str]  # where the secrets its settings name are read
    session: requests.Session | None = None
    amocrm: Any = None  # the tenant's AmoCrmClient, for channels that run through amoCRM (None: unavailable)


@dataclass(frozen=True)
class ChannelType:
    """One channel, declared once in its own module and listed in ``registry.CHANNEL_TYPES``."""

    name: str  # the key under ``rules.channels`` and in preference lists
    label: str  # shown in the amoCRM note logged for every message it sends ("SMS → confirmation: ...")
    settings: Any  # the marshmallow schema of its ``rules.channels.<name>`` section (config/channels.py)
    needs: str  # what a client must have for it, as in "sms: the client has no phone number"
    build: Callable[[Any, ChannelDeps], Channel | None]  # settings, deps -> channel (None: cannot run here)
    uses_amocrm: bool = False  # building it needs the tenant's amoCRM client
