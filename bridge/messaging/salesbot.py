"""amoCRM Salesbot as a channel: the bot configured in amoCRM writes to the client's messenger.

The launcher is anything with ``AmoCrmClient.run_salesbot``'s signature, handed in by the caller, so
this module never builds a client or holds tokens. The bot's own text is used unless
``text_field_id`` is set: then the rendered text is first written to that contact field and the bot
sends it (``{{contact.cf.<id>}}`` in the bot). A run is never retried after it may have started:
a second run would message the client twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bridge.amocrm.errors import (
    AmbiguousWrite,
    AmoError,
    AmoHttpError,
    RateLimited,
    SalesbotNotStarted,
    TokenEndpointError,
)
from bridge.booking.phones import mask_phone
from bridge.messaging.base import ChannelDeps, ChannelError, ChannelType, OutgoingMessage, Recipient, SendResult
from config.channels import SalesbotSchema, SalesbotSettings

log = logging.getLogger(__name__)


class SalesbotLauncher(Protocol):
    def run_salesbot(self, bot_id: int, entity_id: int, entity_type: str = "leads") -> bool: ...


class ContactWriter(Protocol):
    def update_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


class SalesbotChannel:
    name = "salesbot"

    def __init__(self, settings: SalesbotSettings, launcher: SalesbotLauncher) -> None:
        if settings.text_field_id is not None and not callable(getattr(launcher, "update_contacts", None)):
            raise TypeError("salesbot text_field_id needs a launcher that also has update_contacts()")
        self.settings, self.launcher = settings, launcher

    def can_reach(self, to: Recipient) -> bool:
        """A phone (the messenger identity) and the amoCRM contact the bot runs on."""
        return bool(to.phone) and to.amo_contact_id is not None

    def send(self, message: OutgoingMessage) -> SendResult:
        bot_id, contact_id = self._bot_and_contact(message)
        try:
            if self.settings.text_field_id is not None:
                self._write_text(contact_id, message.text)
            self.launcher.run_salesbot(bot_id, contact_id, "contacts")
        except Exception as exc:
            error = _channel_error(exc)
            log.warning("salesbot %s for %s failed: %s", message.key, mask_phone(message.to.phone), error)
            raise error from exc
        return self._started(message, bot_id, contact_id)

    @property
    def batches(self) -> bool:
        """Whether messages due together can start in one request (``send_many``): only with the bot's own
        text; with ``text_field_id`` each contact's text is written just before its own run."""
        return self.settings.text_field_id is None and callable(getattr(self.launcher, "run_salesbots", None))

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Start the bots of several messages in one amoCRM request (all on a contact, see ``batches``).
        amoCRM answers for the request as a whole, so a failure is every message's: ambiguous (none is
        sent again) when the request may have started some, not when amoCRM refused it before starting any.
        """
        runs = [(*self._bot_and_contact(message), "contacts") for message in messages]
        try:
            self.launcher.run_salesbots(runs)  # type: ignore[attr-defined]  # checked by ``batches``
        except Exception as exc:
            error = _channel_error(exc)
            if isinstance(exc, SalesbotNotStarted) and len(runs) > 1:  # some may have started: which, unknown
                error = ChannelError(error.args[0], channel=self.name, retryable=False, ambiguous=True)
            log.warning("salesbot runs of %d messages failed: %s", len(runs), error)
            raise error from exc
        return [self._started(message, bot_id, contact_id)
                for message, (bot_id, contact_id, _) in zip(messages, runs, strict=True)]

    def _bot_and_contact(self, message: OutgoingMessage) -> tuple[int, int]:
        """The bot the template runs and the contact it runs on; a message without either cannot go."""
        contact_id = message.to.amo_contact_id
        bot_id = self.settings.bots.get(message.template, self.settings.bot_id)
        if contact_id is None or bot_id is None:
            what = "the client has no amoCRM contact" if contact_id is None else "no bot for this template"
            raise ChannelError(what, channel=self.name, retryable=False)
        return bot_id, contact_id

    def _started(self, message: OutgoingMessage, bot_id: int, contact_id: int) -> SendResult:
        log.info("salesbot %s started bot %s on contact %s (%s)", message.key, bot_id, contact_id,
                 mask_phone(message.to.phone))
        return SendResult(self.name, f"{bot_id}:{contact_id}")

    def _write_text(self, contact_id: int, text: str) -> None:
        writer: ContactWriter = self.launcher  # type: ignore[assignment]  # checked in __init__
        field = {"field_id": self.settings.text_field_id, "values": [{"value": text}]}
        writer.update_contacts([{"id": contact_id, "custom_fields_values": [field]}])


def _channel_error(exc: Exception) -> ChannelError:
    """amoCRM's failure as a ChannelError: wait-and-retry cases retryable, a maybe-started run not."""
    if isinstance(exc, AmbiguousWrite):
        return ChannelError(f"Salesbot run outcome unknown: {exc}", channel="salesbot", retryable=False, ambiguous=True)
    transient = isinstance(exc, RateLimited | TokenEndpointError) or (
        isinstance(exc, AmoHttpError) and (exc.status >= 500 or exc.status == 429)
    )
    text = str(exc) if isinstance(exc, AmoError) else f"{type(exc).__name__}: {exc}"
    return ChannelError(f"Salesbot failed: {text[:300]}", channel="salesbot", retryable=transient)


def _build(settings: SalesbotSettings, deps: ChannelDeps) -> SalesbotChannel | None:
    """Only where the tenant's amoCRM client is at hand (the bot runs inside amoCRM)."""
    return SalesbotChannel(settings, deps.amocrm) if deps.amocrm is not None else None


SALESBOT = ChannelType("salesbot", "Salesbot", SalesbotSchema, "phone number or no amoCRM contact", _build,
                       uses_amocrm=True)
