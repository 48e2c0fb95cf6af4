"""The names a tenant file may use that ``config`` cannot know itself.

``config`` is the bottom layer and imports nothing of ours, yet a tenant file names booking sources
(declared in ``bridge/booking``), message channels and their settings (``bridge/messaging``), triggers and
pipeline stages (``pipelines``). Whoever loads the files passes those names in: ``bridge.tenancy`` builds
one ``Vocabulary`` from the registries and the domain, and every process (``Services.build``) and
``salonbridge check`` load through it, so a name is validated once, at load time, with the same message
everywhere. ``None`` means "not checked" (only for tools and tests that read a file without the domain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("ru", "uk", "en")  # of messages, task texts and default stage names


@dataclass(frozen=True)
class Vocabulary:
    sources: tuple[str, ...] | None = None  # booking sources
    channels: Mapping[str, Any] = field(default_factory=dict)  # channel name -> marshmallow schema of its settings
    triggers: tuple[str, ...] | None = None
    stages: Mapping[str, tuple[str, ...]] | None = None  # pipeline -> stage keys
    sales_open_stages: tuple[str, ...] | None = None  # where a first booking's no-show / cancellation may go
