"""The ``rules:`` section of a tenant file: the playbook's settings, message channels and template texts.

The schema checks every value where it is written and keeps only what the file says; the defaults live
once, on ``pipelines.policy.Policy``, and ``bridge.tenancy.policy_of`` builds the Policy from these values.
Trigger names and stage keys come from the loader's vocabulary (config/vocabulary.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from marshmallow import ValidationError, post_load
from marshmallow import fields as mm

from config.channels import Channels, ChannelSettings
from config.schema import ClockTime, Flag, Strict, WholeNumber
from config.vocabulary import LANGUAGES, Vocabulary


@dataclass(frozen=True)
class Rules:
    """What the tenant's ``rules:`` section sets, checked; anything absent takes the Policy's default."""

    settings: Mapping[str, Any] = field(default_factory=dict)  # Policy field name -> value the file gives
    triggers: Mapping[str, bool] = field(default_factory=dict)  # trigger -> on/off, over the defaults
    stage_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # pipeline -> stage -> name
    lost_after_by_category: Mapping[str, int] = field(default_factory=dict)  # category as written -> days
    channels: ChannelSettings = field(default_factory=ChannelSettings)
    templates: Mapping[str, Any] = field(default_factory=dict)  # checked by bridge/messaging at load


def _vocabulary(f: mm.Field) -> Vocabulary:
    return getattr(f.parent, "vocabulary", None) or Vocabulary()


def _int(value: Any, lo: int, hi: int) -> int:
    return WholeNumber(lo, hi).deserialize(value)


class _AnyText(mm.Field):
    """Text, possibly empty (an offer or bonus may be left blank)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return value
        raise ValidationError("must be text")


class _Language(mm.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if value in LANGUAGES:
            return value
        raise ValidationError(f"must be one of {', '.join(LANGUAGES)}; got {value!r}")


class _Switches(mm.Field):
    """``{trigger: true|false}``: every unknown name and non-boolean reported at once."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, bool]:
        if not isinstance(value, Mapping):
            raise ValidationError("must map trigger names to true/false")
        known = _vocabulary(self).triggers
        errors: dict[str, list[str]] = {}
        for name, flag in value.items():
            if known is not None and name not in known:
                errors[str(name)] = [f"unknown trigger; known: {', '.join(known)}"]
            elif not isinstance(flag, bool):
                errors[str(name)] = ["must be true or false"]
        if errors:
            raise ValidationError(errors)
        return {str(k): v for k, v in value.items()}


class _LostAfter(mm.Field):
    """``30`` or ``{default: 30, <category>: 60, ...}`` → (default days, {category: days})."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if not isinstance(value, Mapping):
            return _int(value, 1, 730), {}
        errors: dict[str, Any] = {}
        days: dict[str, int] = {}
        for name, given in value.items():
            try:
                days[str(name)] = _int(given, 1, 730)
            except ValidationError as exc:
                errors[str(name)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return days.pop("default", 30), days


class _StepDays(mm.Field):
    """One gap for every step, or three: reminder→promo, promo→call task, call task→lost for good."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, int, int]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value] * 3
        if not isinstance(value, list | tuple) or len(value) != 3:
            raise ValidationError("must be a number of days or a list of three")
        errors: dict[str, Any] = {}
        for i, given in enumerate(value):
            try:
                _int(given, 1, 365)
            except ValidationError as exc:
                errors[str(i)] = exc.messages
        if errors:
            raise ValidationError(errors)
        return (value[0], value[1], value[2])


class _StageNames(mm.Field):
    """``{pipeline: {stage key: name shown in amoCRM}}``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, dict[str, str]]:
        if not isinstance(value, Mapping):
            raise ValidationError("must map pipelines to {stage: name}")
        stages = _vocabulary(self).stages
        errors: dict[str, Any] = {}
        out: dict[str, dict[str, str]] = {}
        for pipeline, names in value.items():
            key = str(pipeline)
            if stages is not None and key not in stages:
                errors[key] = [f"unknown pipeline; known: {', '.join(stages)}"]
            elif not isinstance(names, Mapping):
                errors[key] = ["must map stage keys to names"]
            else:
                out[key], problems = _names(names, stages[key] if stages is not None else None)
                if problems:
                    errors[key] = problems
        if errors:
            raise ValidationError(errors)
        return out


def _names(names: Mapping[str, Any], known: tuple[str, ...] | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    out: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for stage, name in names.items():
        if known is not None and stage not in known:
            errors[str(stage)] = [f"unknown stage; known: {', '.join(known)}"]
        elif not isinstance(name, str) or not name.strip():
            errors[str(stage)] = ["must be a non-empty name"]
        else:
            out[str(stage)] = name.strip()
    return out, errors


class _SalesStage(mm.Field):
    """Where a first booking's no-show / cancellation moves the Sales lead: an open Sales stage."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        allowed = _vocabulary(self).sales_open_stages
        if isinstance(value, str) and (allowed is None or value in allowed):
            return value
        raise ValidationError(f"must be one of {', '.join(allowed or ())}; got {value!r}")


class _Responsible(mm.Field):
    """``{default: <user>, <branch id>: <user>}``; users are amoCRM user ids or logins."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ValidationError("must map branch ids (or 'default') to amoCRM users")
        errors: dict[str, list[str]] = {}
        users: dict[str, str] = {}
        for branch, user in value.items():
            if isinstance(user, bool) or not isinstance(user, str | int) or str(user).strip() == "":
                errors[str(branch)] = ["must be an amoCRM user id or login"]
            else:
                users[str(branch)] = str(user).strip()
        if errors:
            raise ValidationError(errors)
        return users


class _QuietHoursSchema(Strict):
    shape = 'must be {start: "HH:MM", end: "HH:MM"} or null'
    error_messages = {"unknown": shape, "type": shape}
    start = ClockTime(required=True)
    end = ClockTime(required=True)


class _QuietHours(mm.Field):
    """``{start: "21:00", end: "09:00"}``; ``null`` or ``false`` turns quiet hours off."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[time, time] | None:
        if value is False:
            return None
        loaded = _QuietHoursSchema().load(value)
        start, end = time(*loaded["start"]), time(*loaded["end"])
        if start == end:
            raise ValidationError("start and end must differ")
        return (start, end)


class _CapSchema(Strict):
    shape = "must be {messages: N, days: D} or null"
    error_messages = {"unknown": shape, "type": shape}
    messages = WholeNumber(1, 100, required=True)
    days = WholeNumber(1, 365, required=True)


class _FrequencyCap(mm.Field):
    """``{messages: 2, days: 7}``; ``null`` or ``false`` turns the cap off."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[int, int] | None:
        if value is False:
            return None
        loaded = _CapSchema().load(value)
        return (loaded["messages"], loaded["days"])


class _Templates(mm.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(value, Mapping):
            return dict(value)
        raise ValidationError("must map template ids to {language: text} or {language: {text, subject}}")


class RulesSchema(Strict):
    language = _Language()
    triggers = _Switches()
    promo = Flag()
    promo_offer = _AnyText()
    welcome_bonus = _AnyText()
    reminder_lead_days = WholeNumber(0, 365, allow_none=True)  # null: 7 d for short periods, else up to 30 d
    lost_after_days = _LostAfter()
    lost_step_days = _StepDays()
    stages = _StageNames()
    sales_no_show_stage = _SalesStage()
    sales_cancelled_stage = _SalesStage()
    responsible = _Responsible()
    pre_visit_reminder_hours = WholeNumber(1, 168)
    review_request_delay_hours = WholeNumber(0, 168)
    review_request_max_age_hours = WholeNumber(1, 720)
    quiet_hours = _QuietHours(allow_none=True)
    frequency_cap = _FrequencyCap(allow_none=True)
    channels = Channels()
    favourite_master_visits = WholeNumber(1, 50)
    templates = _Templates()

    def __init__(self, *, vocabulary: Vocabulary | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocabulary = vocabulary or Vocabulary()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Rules:
        settings = dict(data)
        channels = settings.pop("channels", None)
        if channels is not None:
            settings["channels"] = channels.preference
        lost_by_category: dict[str, int] = {}
        if "lost_after_days" in settings:
            settings["lost_after_days"], lost_by_category = settings["lost_after_days"]
        users = settings.pop("responsible", None)
        if users is not None:
            settings["default_responsible"] = users.pop("default", None)
            settings["responsible"] = users
        triggers, stages, templates = (settings.pop(k, {}) for k in ("triggers", "stages", "templates"))
        return Rules(
            settings=settings,
            triggers=triggers,
            stage_names=stages,
            lost_after_by_category=lost_by_category,
            channels=channels or ChannelSettings(),
            templates=templates,
        )
