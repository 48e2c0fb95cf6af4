"""Channel settings from the tenant YAML, ``rules.channels``, checked with every problem's path.

``rules.channels`` is either the preference list (``[sms, email]``, as ``pipelines`` reads it) or a
mapping whose key order is the preference and whose values configure each channel. Secrets are never
in the file: ``*_env`` names the environment variable holding one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pipelines.policy import CHANNELS

Problems = list[tuple[str, str]]
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_HEADER = re.compile(r"^[A-Za-z0-9-]+$")
BODY_FIELDS = ("to", "text", "sender")


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
    preference: tuple[str, ...] = ("sms", "email")
    sms: SmsSettings | None = None
    email: EmailSettings | None = None
    salesbot: SalesbotSettings | None = None

    def secret_envs(self) -> dict[str, str]:
        """Environment variables these settings name, by field path (for ``salonbridge check``)."""
        named = {
            "rules.channels.sms.token_env": self.sms.token_env if self.sms else None,
            "rules.channels.email.password_env": self.email.password_env if self.email else None,
        }
        return {path: env for path, env in named.items() if env}


def parse_channels(value: Any, base: str = "rules.channels") -> tuple[ChannelSettings, Problems]:
    """Settings plus every problem found (settings of a channel with problems are left out)."""
    if value is None:
        return ChannelSettings(), []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        bad = [c for c in value if c not in CHANNELS]
        if bad or not value:
            return ChannelSettings(), [(base, f"must be a non-empty list of {', '.join(CHANNELS)}")]
        return ChannelSettings(preference=tuple(dict.fromkeys(value))), []
    if not isinstance(value, Mapping) or not value:
        return ChannelSettings(), [(base, f"must be a list or a mapping of {', '.join(CHANNELS)}")]
    problems: Problems = [
        (f"{base}.{k}", f"unknown channel; known: {', '.join(CHANNELS)}") for k in value if k not in CHANNELS
    ]
    parsers = {"sms": _sms, "email": _email, "salesbot": _salesbot}
    parsed: dict[str, Any] = {}
    for name, parser in parsers.items():
        if name in value:
            before = len(problems)
            result = parser(_Reader(value[name], f"{base}.{name}", problems))
            parsed[name] = result if len(problems) == before else None
    preference = tuple(k for k in value if k in CHANNELS)
    return ChannelSettings(preference=preference, **parsed), problems


def validate_channels(value: Any) -> Problems:
    return parse_channels(value)[1]


class _Reader:
    """Typed reads from one channel's mapping, appending (path, message) for bad values."""

    def __init__(self, data: Any, path: str, problems: Problems) -> None:
        self.path, self.problems = path, problems
        if not isinstance(data, Mapping):
            problems.append((path, "must be a mapping of settings"))
            data = {}
        self.data: Mapping[str, Any] = data

    def known(self, *names: str) -> None:
        self.problems.extend((f"{self.path}.{k}", "unknown setting") for k in self.data if k not in names)

    def fail(self, name: str, message: str) -> None:
        self.problems.append((f"{self.path}.{name}" if name else self.path, message))

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "must be non-empty text")
            return default
        return value.strip()

    def env(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not _ENV.match(value):
            self.fail(name, "must name an environment variable (A-Z, 0-9, _), not hold the secret")
        return value

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.text(name, default)
        if value is not None and not _HEADER.match(value):
            self.fail(name, "must be an HTTP header name")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if isinstance(value, bool):
            return value
        self.fail(name, "must be true or false")
        return default

    def number(self, name: str, default: float | None, lo: float, hi: float, *, whole: bool = False) -> Any:
        value = self.data.get(name, default)
        if value is None:
            return None
        kinds = (int,) if whole else (int, float)
        if isinstance(value, kinds) and not isinstance(value, bool) and lo <= value <= hi:
            return value
        self.fail(name, f"must be a {'whole ' if whole else ''}number from {lo:g} to {hi:g}; got {value!r}")
        return default


def _sms(r: _Reader) -> SmsSettings:
    r.known(*(f.name for f in fields(SmsSettings)))
    url = r.text("url", required=True) or ""
    if url and not re.match(r"^https?://[^/\s]+", url):
        r.fail("url", "must be an http(s) URL")
    method = (r.text("method", "POST") or "POST").upper()
    if method not in ("POST", "PUT"):
        r.fail("method", "must be POST or PUT")
    scheme = r.data.get("auth_scheme", "Bearer")
    if not isinstance(scheme, str):
        r.fail("auth_scheme", 'must be text ("" for a bare token)')
        scheme = "Bearer"
    phone_format = r.text("phone_format", "e164")
    if phone_format not in ("e164", "digits"):
        r.fail("phone_format", "must be e164 or digits")
    return SmsSettings(
        url=url,
        method=method,
        token_env=r.env("token_env"),
        auth_header=r.header("auth_header", "Authorization") or "Authorization",
        auth_scheme=scheme.strip(),
        sender=r.text("sender"),
        body=_body(r),
        extra=_extra(r),
        id_path=r.text("id_path"),
        phone_format=phone_format or "e164",
        idempotency_header=r.header("idempotency_header"),
        timeout_s=r.number("timeout_s", 10.0, 1, 60),
    )


def _body(r: _Reader) -> dict[str, str]:
    value = r.data.get("body", {"to": "to", "text": "text", "sender": "sender"})
    if not isinstance(value, Mapping):
        r.fail("body", "must map to/text/sender to the gateway's field names")
        return {}
    out: dict[str, str] = {}
    for key, name in value.items():
        if key not in BODY_FIELDS:
            r.fail(f"body.{key}", f"unknown field; known: {', '.join(BODY_FIELDS)}")
        elif not isinstance(name, str) or not name.strip():
            r.fail(f"body.{key}", "must be the gateway's field name")
        else:
            out[str(key)] = name.strip()
    for key in ("to", "text"):
        if key not in value:
            r.fail(f"body.{key}", "is required")
    return out


def _extra(r: _Reader) -> dict[str, Any]:
    value = r.data.get("extra", {})
    if not isinstance(value, Mapping) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
        r.fail("extra", "must map field names to constant values")
        return {}
    return dict(value)


def _email(r: _Reader) -> EmailSettings:
    r.known("from", *(f.name for f in fields(EmailSettings) if f.name != "from_address"))
    ssl = r.boolean("ssl", False)
    starttls = r.boolean("starttls", not ssl)
    if ssl and starttls:
        r.fail("", "ssl and starttls exclude each other (ssl: port 465; starttls: port 587)")
    from_address = r.text("from", required=True) or ""
    if from_address and "@" not in from_address:
        r.fail("from", 'must be an address, e.g. "Studio <robot@example.com>"')
    username, password_env = r.text("username"), r.env("password_env")
    if username and not password_env:
        r.fail("password_env", "is required with username")
    return EmailSettings(
        host=r.text("host", required=True) or "",
        from_address=from_address,
        port=r.number("port", 465 if ssl else 587, 1, 65535, whole=True),
        starttls=starttls,
        ssl=ssl,
        username=username,
        password_env=password_env,
        reply_to=r.text("reply_to"),
        timeout_s=r.number("timeout_s", 15.0, 1, 120),
        default_subject=r.text("default_subject"),
    )


def _salesbot(r: _Reader) -> SalesbotSettings:
    r.known("bot_id", "bots", "text_field_id")
    bots = r.data.get("bots", {})
    if not isinstance(bots, Mapping) or not all(_positive(v) for v in bots.values()):
        r.fail("bots", "must map template ids to Salesbot ids")
        bots = {}
    bot_id = r.number("bot_id", None, 1, 2**53, whole=True)
    if bot_id is None and not bots:
        r.fail("bot_id", "is required (or bots: {template: bot id})")
    return SalesbotSettings(
        bot_id=bot_id, bots=dict(bots), text_field_id=r.number("text_field_id", None, 1, 2**53, whole=True)
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class ChannelConfigError(ValueError):
    """Invalid ``rules.channels``; ``problems`` holds every (field path, message)."""

    def __init__(self, problems: Problems) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems))
