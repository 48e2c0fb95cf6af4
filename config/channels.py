"""Message channel settings, ``rules.channels`` of the tenant file.

``rules.channels`` is either the preference list (``[sms, email]``) or a mapping whose key order is the
preference and whose values configure each channel. Which channels exist is decided by
``bridge/messaging``'s registry: it hands ``load_channels`` each channel's schema (the ones below, or a
new channel's own). Secrets are never in the file: ``*_env`` names the environment variable holding one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from marshmallow import ValidationError, post_load, validates_schema
from marshmallow import fields as mm

from config.schema import (
    Choice,
    EnvName,
    Flag,
    HeaderName,
    Number,
    Problems,
    Strict,
    Text,
    WholeNumber,
    field_problems,
    problems_as_errors,
)

BODY_FIELDS = ("to", "text", "sender")
DEFAULT_PREFERENCE = ("sms", "email")


@dataclass(frozen=True)
class SmsSettings:
    url: str
    method: str = "POST"
    token_env: str | None = None  # sent as "<auth_header>: <auth_scheme> <token>"
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # "" sends the bare token
    sender: str | None = None  # alpha name / number the gateway shows
    body: Mapping[str, str] = field(default_factory=lambda: {"to": "to", "text": "text", "sender": "sender"})
    extra: Mapping[str, Any] = field(default_factory=dict)  # constant fields added to every body
    id_path: str | None = None  # dotted path of the message id in the JSON answer, e.g. "data.0.id"
    phone_format: str = "e164"  # or "digits" (no "+")
    idempotency_header: str | None = None  # gateway's dedupe header; gets the message key
    timeout_s: float = 10.0


@dataclass(frozen=True)
class EmailSettings:
    host: str
    from_address: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None
    reply_to: str | None = None
    timeout_s: float = 15.0
    default_subject: str | None = None  # for templates without a subject (else the salon's name)


@dataclass(frozen=True)
class SalesbotSettings:
    bot_id: int | None = None  # the bot for every template not in ``bots``
    bots: Mapping[str, int] = field(default_factory=dict)  # template id -> bot id
    text_field_id: int | None = None  # contact field the rendered text is written to before the run


@dataclass(frozen=True)
class ChannelSettings:
    """The preference order and each configured channel's settings; ``settings.sms`` is the SMS settings
    (None when that channel is not configured), for every channel name."""

    preference: tuple[str, ...] = DEFAULT_PREFERENCE
    configured: Mapping[str, Any] = field(default_factory=dict)  # channel name -> its settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.configured.get(name)

    def secret_envs(self) -> dict[str, str]:
        """Environment variables these settings name, by field path (for ``salonbridge check``)."""
        return {
            f"rules.channels.{name}.{f.name}": getattr(settings, f.name)
            for name, settings in self.configured.items()
            for f in fields(settings)
            if f.name.endswith("_env") and getattr(settings, f.name)
        }


# --- the shipped channels' schemas ----------------------------------------------------------------------


class _Body(Strict):
    error_messages = {"unknown": f"unknown field; known: {', '.join(BODY_FIELDS)}",
                      "type": "must map to/text/sender to the gateway's field names"}
    to = Text(required=True)
    text = Text(required=True)
    sender = Text()


class _Constants(mm.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, Mapping) and all(isinstance(v, str | int | float | bool) for v in value.values()):
            return dict(value)
        raise ValidationError("must map field names to constant values")


class _BareText(mm.Field):
    """Text that may be empty ("" sends a bare token)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return value.strip()
        raise ValidationError('must be text ("" for a bare token)')


class SmsSchema(Strict):
    url = Text(required=True, pattern=re.compile(r"^https?://[^/\s]+"), hint="must be an http(s) URL")
    method = Choice(("POST", "PUT"), fold=True, message="must be POST or PUT", load_default="POST")
    token_env = EnvName(load_default=None)
    auth_header = HeaderName(load_default="Authorization")
    auth_scheme = _BareText(load_default="Bearer")
    sender = Text(load_default=None)
    body = mm.Nested(_Body, load_default=lambda: {"to": "to", "text": "text", "sender": "sender"})
    extra = _Constants(load_default=dict)
    id_path = Text(load_default=None)
    phone_format = Choice(("e164", "digits"), message="must be e164 or digits", load_default="e164")
    idempotency_header = HeaderName(load_default=None)
    timeout_s = Number(1, 60, load_default=10.0)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SmsSettings:
        return SmsSettings(**data)


class EmailSchema(Strict):
    host = Text(required=True)
    from_address = Text(required=True, data_key="from", pattern=re.compile(r".*@"),
                        hint='must be an address, e.g. "Studio <robot@example.com>"')
    port = WholeNumber(1, 65535, load_default=None)
    starttls = Flag(load_default=None)
    ssl = Flag(load_default=False)
    username = Text(load_default=None)
    password_env = EnvName(load_default=None)
    reply_to = Text(load_default=None)
    timeout_s = Number(1, 120, load_default=15.0)
    default_subject = Text(load_default=None)

    @validates_schema
    def consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data["ssl"] and data["starttls"]:
            raise ValidationError("ssl and starttls exclude each other (ssl: port 465; starttls: port 587)")
        if data["username"] and not data["password_env"]:
            raise ValidationError("is required with username", "password_env")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EmailSettings:
        if data["starttls"] is None:
            data["starttls"] = not data["ssl"]
        if data["port"] is None:
            data["port"] = 465 if data["ssl"] else 587
        return EmailSettings(**data)


class _BotIds(mm.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, int]:
        if isinstance(value, Mapping) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                              for v in value.values()):
            return {str(k): v for k, v in value.items()}
        raise ValidationError("must map template ids to Salesbot ids")


class SalesbotSchema(Strict):
    bot_id = WholeNumber(1, 2**53, load_default=None)
    bots = _BotIds(load_default=dict)
    text_field_id = WholeNumber(1, 2**53, load_default=None)

    @validates_schema
    def has_a_bot(self, data: dict[str, Any], **_: Any) -> None:
        if data["bot_id"] is None and not data["bots"]:
            raise ValidationError("is required (or bots: {template: bot id})", "bot_id")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SalesbotSettings:
        return SalesbotSettings(**data)


SHIPPED = {"sms": SmsSchema, "email": EmailSchema, "salesbot": SalesbotSchema}


# --- the section as a whole -----------------------------------------------------------------------------


def load_channels(value: Any, schemas: Mapping[str, Any], base: str = "") -> tuple[ChannelSettings, Problems]:
    """Settings plus every problem (paths under ``base``); a channel with problems is left out of the settings.

    ``schemas`` maps each known channel name to the marshmallow schema of its settings.
    """
    known = ", ".join(schemas)
    if value is None:
        return ChannelSettings(tuple(c for c in DEFAULT_PREFERENCE if c in schemas)), []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        if not value or any(c not in schemas for c in value):
            return ChannelSettings(), [(base, f"must be a non-empty list of {known}")]
        return ChannelSettings(preference=tuple(dict.fromkeys(value))), []
    if not isinstance(value, Mapping) or not value:
        return ChannelSettings(), [(base, f"must be a list or a mapping of {known}")]
    problems: Problems = [(_join(base, str(k)), f"unknown channel; known: {known}") for k in value if k not in schemas]
    configured: dict[str, Any] = {}
    for name, section in value.items():
        if name not in schemas:
            continue
        try:
            configured[name] = schemas[name]().load(section)
        except ValidationError as exc:
            problems.extend(field_problems(exc.messages, _join(base, name)))
    preference = tuple(k for k in value if k in schemas)
    return ChannelSettings(preference=preference, configured=configured), problems


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


class Channels(mm.Field):
    """``rules.channels`` inside the rules schema: the channel schemas come from the loader's vocabulary."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> ChannelSettings:
        vocabulary = getattr(self.parent, "vocabulary", None)
        settings, problems = load_channels(value, (vocabulary.channels if vocabulary else None) or SHIPPED)
        if problems:
            raise ValidationError(problems_as_errors(problems))
        return settings
