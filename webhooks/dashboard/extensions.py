"""Slots that features landing later fill in, so the pages render what exists today.

``reconnect_sender``: the Reconnect campaign. Set it to a callable
``(services, tenant, category | None, channel) -> SendSummary-like object with .count and .channel``
(``None`` category: every category) and the Reconnect page shows "Send" per category and "Send all"
(a POST with CSRF to ``dashboard.reconnect_send``); while it is None the page keeps an empty slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

reconnect_sender: Callable[..., Any] | None = None
