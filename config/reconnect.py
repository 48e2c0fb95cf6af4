"""The ``reconnect:`` section of a tenant file (seed 004): how late is "at risk", and how campaigns behave.

Every key is optional; an absent section means the defaults of
``config/reconnect_model.py``. docs/reconnect.md explains each.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from config.reconnect_model import CHANNELS, PredictedTime, ReconnectSettings

__all__ = ["CHANNELS", "PredictedTime", "PredictedTimeSchema", "ReconnectSchema", "ReconnectSettings"]


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
