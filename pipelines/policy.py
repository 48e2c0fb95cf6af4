"""Policy: a tenant's rules as plain values, built from its YAML by the caller, never read from env."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Policy:
    tenant: str
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_hour: int = 10
