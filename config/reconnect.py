"""The ``reconnect:`` section of a tenant file (seed 004): how late is "at risk", and how campaigns behave.

Every key is optional; an absent section means the defaults below. docs/reconnect.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

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


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _days(low: int, high: int) -> validate.Range:
    return validate.Range(min=low, max=high, error=f"must be a whole number of days from {low} to {high}")


class PredictedTimeSchema(_Strict):
    enabled = fields.Boolean(load_default=False)
    lead_days = fields.Integer(load_default=3, strict=True, validate=_days(1, 60))

    @post_load
    def make(self, data: dict, **_: Any) -> PredictedTime:
        return PredictedTime(**data)


class ReconnectSchema(_Strict):
    tolerance_days = fields.Integer(load_default=7, strict=True, validate=_days(0, 365))
    follow_up_after_days = fields.Integer(load_default=7, allow_none=True, strict=True, validate=_days(1, 90))
    attribution_window_days = fields.Integer(load_default=30, strict=True, validate=_days(1, 365))
    channel = fields.String(load_default="both", validate=validate.OneOf(CHANNELS))
    predicted_time = fields.Nested(PredictedTimeSchema, load_default=PredictedTime)
    create_lost_lead = fields.Boolean(load_default=False)
    create_call_task = fields.Boolean(load_default=False)

    @validates_schema
    def follow_up_inside_window(self, data: dict, **_: Any) -> None:
        follow_up, window = data.get("follow_up_after_days"), data.get("attribution_window_days")
        if follow_up is not None and window is not None and follow_up >= window:
            raise ValidationError(
                f"must be less than attribution_window_days ({window}): a follow-up after the window can no "
                "longer be credited", "follow_up_after_days")

    @post_load
    def make(self, data: dict, **_: Any) -> ReconnectSettings:
        return ReconnectSettings(**data)
