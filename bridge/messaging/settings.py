"""Channel settings of a tenant file (``rules.channels``), read with the registry's channels.

The settings and their marshmallow schemas live in ``config/channels.py`` (all of a tenant file is
validated there, when it is loaded); this module reads a ``rules.channels`` value on its own, for tools,
docs and tests, against the channels ``registry`` declares.
"""

from __future__ import annotations

from typing import Any

from bridge.messaging.registry import settings_schemas
from config.channels import ChannelSettings, EmailSettings, SalesbotSettings, SmsSettings, load_channels
from config.schema import Problems

__all__ = [
    "ChannelConfigError",
    "ChannelSettings",
    "EmailSettings",
    "SalesbotSettings",
    "SmsSettings",
    "channel_settings",
    "parse_channels",
]


def parse_channels(value: Any, base: str = "rules.channels") -> tuple[ChannelSettings, Problems]:
    """Settings plus every problem found (settings of a channel with problems are left out)."""
    return load_channels(value, settings_schemas(), base)


def channel_settings(value: Any) -> ChannelSettings:
    """The settings of a ``rules.channels`` value; raises ChannelConfigError listing every problem."""
    settings, problems = parse_channels(value)
    if problems:
        raise ChannelConfigError(problems)
    return settings


class ChannelConfigError(ValueError):
    """Invalid ``rules.channels``; ``problems`` holds every (field path, message)."""

    def __init__(self, problems: Problems) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems))
