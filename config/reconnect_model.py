"""The ``reconnect:`` section's values as plain dataclasses (no marshmallow), so ``pipelines`` can hold them.

``config/reconnect.py`` loads and checks them; docs/reconnect.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS = ("sms", "email", "both")


@dataclass(frozen=True)
class PredictedTime:
    """Send the first message by itself ``lead_days`` before a client would become at risk."""

    enabled: bool = False
    lead_days: int = 3


@dataclass(frozen=True)
class ReconnectSettings:
    tolerance_days: int = 7  # days past the expected date before a client counts as at risk
    follow_up_after_days: int | None = 7  # None: no automatic follow-up
    attribution_window_days: int = 30  # a rebooking this long after the first message is a success
    channel: str = "both"  # sms | email | both (each where the client has one)
    predicted_time: PredictedTime = field(default_factory=PredictedTime)
    create_lost_lead: bool = False  # a Lost clients lead for each contacted client
    create_call_task: bool = False  # an amoCRM call task for each contacted client
