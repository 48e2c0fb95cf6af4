"""Validation of a tenant's ``services:`` and ``rules:`` sections into Policy fields.

Every problem is collected with its field path instead of stopping at the first, so an integrator sees
the whole list from one ``salonbridge check``. YAML booleans are not accepted as numbers, and numbers
are not accepted as booleans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.catalog import CatalogOverrides, ServiceRule, canonical_category
from pipelines.policy import CHANNELS, DEFAULT_TRIGGERS, LANGUAGES, TRIGGERS, PolicyError
from pipelines.stages import LOST, STAGES, WON, Pipeline

Problems = list[tuple[str, str]]
_MISSING = object()
_KNOWN = {
    "templates",  # message texts: validated with the channels in bridge/messaging
    "language",
    "triggers",
    "promo",
    "promo_offer",
    "welcome_bonus",
    "reminder_lead_days",
    "lost_after_days",
    "lost_step_days",
    "stages",
    "sales_no_show_stage",
    "sales_cancelled_stage",
    "responsible",
    "pre_visit_reminder_hours",
    "review_request_delay_hours",
    "review_request_max_age_hours",
    "quiet_hours",
    "frequency_cap",
    "channels",
    "favourite_master_visits",
}


def parse(
    slug: str,
    timezone_name: str,
    working_hour: int,
    categories: Mapping[str, int],
    services: Mapping[str, Any],
    rules: Mapping[str, Any],
    language: str,
) -> dict[str, Any]:
    """Policy keyword arguments; raises PolicyError with every (path, message) found."""
    problems: Problems = []
    out: dict[str, Any] = {"tenant": slug, "timezone": _zone(timezone_name, problems)}
    out["working_hour"] = _int(working_hour, "working_hour", problems, 0, 23, 10)
    out["catalog"] = _catalog(categories, services, problems)
    if not isinstance(rules, Mapping):
        problems.append(("rules", "must be a mapping"))
        rules = {}
    if language not in LANGUAGES:
        problems.append(("language", f"must be one of {', '.join(LANGUAGES)}; got {language!r}"))
        language = "ru"
    out.update(_rules(rules, language, problems))
    if problems:
        raise PolicyError(problems)
    return out


def _rules(rules: Mapping[str, Any], language: str, problems: Problems) -> dict[str, Any]:
    problems.extend((f"rules.{k}", "unknown setting") for k in sorted(set(map(str, rules)) - _KNOWN))
    r = _Reader(rules, "rules", problems)
    return {
        "language": r.choice("language", LANGUAGES, language),
        "triggers": _triggers(r.get("triggers", {}), problems),
        "promo": r.boolean("promo", True),
        "promo_offer": r.text("promo_offer", ""),
        "welcome_bonus": r.text("welcome_bonus", ""),
        "reminder_lead_days": r.integer("reminder_lead_days", None, 0, 365),
        **_lost_after(r.get("lost_after_days", 30), problems),
        "lost_step_days": _step_days(r.get("lost_step_days", [7, 7, 14]), problems),
        "stage_names": _stage_names(r.get("stages", {}), problems),
        "sales_no_show_stage": r.choice("sales_no_show_stage", _sales_open(), "no_show"),
        "sales_cancelled_stage": r.choice("sales_cancelled_stage", _sales_open(), "cancelled"),
        **_responsible(r.get("responsible", {}), problems),
        "pre_visit_reminder_hours": r.integer("pre_visit_reminder_hours", 24, 1, 168),
        "review_request_delay_hours": r.integer("review_request_delay_hours", 2, 0, 168),
        "review_request_max_age_hours": r.integer("review_request_max_age_hours", 72, 1, 720),
        "quiet_hours": _quiet_hours(r.get("quiet_hours", {"start": "21:00", "end": "09:00"}), problems),
        "frequency_cap": _frequency_cap(r.get("frequency_cap", {"messages": 2, "days": 7}), problems),
        "channels": _channels(r.get("channels", ["sms", "email"]), problems),
        "favourite_master_visits": r.integer("favourite_master_visits", 5, 1, 50),
    }


class _Reader:
    """Typed reads from one mapping, appending (path, message) on bad values and returning defaults."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems) -> None:
        self.data, self.path, self.problems = data, path, problems

    def get(self, name: str, default: Any) -> Any:
        return self.data.get(name, default)

    def integer(self, name: str, default: int | None, lo: int, hi: int) -> int | None:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or (value is None and default is None):
            return default
        return _int(value, f"{self.path}.{name}", self.problems, lo, hi, default)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if isinstance(value, bool):
            return value
        self.problems.append((f"{self.path}.{name}", "must be true or false"))
        return default

    def text(self, name: str, default: str) -> str:
        value = self.data.get(name, default)
        if isinstance(value, str):
            return value
        self.problems.append((f"{self.path}.{name}", "must be text"))
        return default

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value in allowed:
            return value
        self.problems.append((f"{self.path}.{name}", f"must be one of {', '.join(allowed)}; got {value!r}"))
        return default


def _int(value: Any, path: str, problems: Problems, lo: int, hi: int, default: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    problems.append((path, f"must be a whole number from {lo} to {hi}; got {value!r}"))
    return default


def _zone(name: str, problems: Problems) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(("timezone", f"unknown IANA time zone {name!r}"))
        return ZoneInfo("UTC")


def _catalog(categories: Mapping[str, int], services: Mapping[str, Any], problems: Problems) -> CatalogOverrides:
    cats = {
        str(name): _int(days, f"services.categories.{name}", problems, 1, 730, None)
        for name, days in (categories or {}).items()
    }
    rules = {
        str(key): _service_rule(value, f"services.services.{key}", problems) for key, value in (services or {}).items()
    }
    return CatalogOverrides.build({k: v for k, v in cats.items() if v}, rules)


def _service_rule(value: Any, path: str, problems: Problems) -> ServiceRule:
    """Accepts a mapping or any object with the same attributes (config's ServiceOverride)."""
    get = value.get if isinstance(value, Mapping) else (lambda name, default=None: getattr(value, name, default))
    days = get("periodicity_days", None)
    if days is not None:
        days = _int(days, f"{path}.periodicity_days", problems, 1, 730, None)
    counts_for = get("counts_for", ()) or ()
    if isinstance(counts_for, str) or not all(isinstance(c, str) for c in counts_for):
        problems.append((f"{path}.counts_for", "must be a list of category names"))
        counts_for = ()
    category = get("category", None)
    return ServiceRule(
        category=category, periodicity_days=days, counts_for=tuple(c for c in map(canonical_category, counts_for) if c)
    )


def _triggers(value: Any, problems: Problems) -> frozenset[str]:
    if not isinstance(value, Mapping):
        problems.append(("rules.triggers", "must map trigger names to true/false"))
        return DEFAULT_TRIGGERS
    on = set(DEFAULT_TRIGGERS)
    for name, flag in value.items():
        if name not in TRIGGERS:
            problems.append((f"rules.triggers.{name}", f"unknown trigger; known: {', '.join(TRIGGERS)}"))
        elif not isinstance(flag, bool):
            problems.append((f"rules.triggers.{name}", "must be true or false"))
        else:
            (on.add if flag else on.discard)(name)
    return frozenset(on)


def _lost_after(value: Any, problems: Problems) -> dict[str, Any]:
    """``lost_after_days: 30`` or ``{default: 30, <category>: 60, ...}``."""
    if not isinstance(value, Mapping):
        return {"lost_after_days": _int(value, "rules.lost_after_days", problems, 1, 730, 30)}
    default = _int(value.get("default", 30), "rules.lost_after_days.default", problems, 1, 730, 30)
    per = {
        canonical_category(str(name)) or str(name): _int(
            days, f"rules.lost_after_days.{name}", problems, 1, 730, default
        )
        for name, days in value.items()
        if name != "default"
    }
    return {"lost_after_days": default, "lost_after_by_category": per}


def _step_days(value: Any, problems: Problems) -> tuple[int, int, int]:
    """One gap for every step, or three: reminder→promo, promo→call task, call task→lost for good."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value] * 3
    if not isinstance(value, list | tuple) or len(value) != 3:
        problems.append(("rules.lost_step_days", "must be a number of days or a list of three"))
        return (7, 7, 14)
    days = [_int(v, f"rules.lost_step_days.{i}", problems, 1, 365, 7) for i, v in enumerate(value)]
    return (days[0], days[1], days[2])


def _stage_names(value: Any, problems: Problems) -> dict[Pipeline, dict[str, str]]:
    if not isinstance(value, Mapping):
        problems.append(("rules.stages", "must map pipelines to {stage: name}"))
        return {}
    out: dict[Pipeline, dict[str, str]] = {}
    for pipeline_name, names in value.items():
        path = f"rules.stages.{pipeline_name}"
        if pipeline_name not in {p.value for p in Pipeline}:
            problems.append((path, "unknown pipeline; known: sales, repeat, lost"))
        elif not isinstance(names, Mapping):
            problems.append((path, "must map stage keys to names"))
        else:
            out[Pipeline(pipeline_name)] = _names_for(Pipeline(pipeline_name), names, path, problems)
    return out


def _names_for(pipeline: Pipeline, names: Mapping[str, Any], path: str, problems: Problems) -> dict[str, str]:
    out: dict[str, str] = {}
    for stage, name in names.items():
        if stage not in STAGES[pipeline]:
            problems.append((f"{path}.{stage}", f"unknown stage; known: {', '.join(STAGES[pipeline])}"))
        elif not isinstance(name, str) or not name.strip():
            problems.append((f"{path}.{stage}", "must be a non-empty name"))
        else:
            out[stage] = name.strip()
    return out


def _sales_open() -> tuple[str, ...]:
    return tuple(s for s in STAGES[Pipeline.SALES] if s not in (WON, LOST))


def _responsible(value: Any, problems: Problems) -> dict[str, Any]:
    """``{default: <user>, <branch id>: <user>}``; users are amoCRM user ids or logins."""
    if not isinstance(value, Mapping):
        problems.append(("rules.responsible", "must map branch ids (or 'default') to amoCRM users"))
        return {}
    users: dict[str, str] = {}
    for branch, user in value.items():
        if isinstance(user, bool) or not isinstance(user, str | int) or str(user).strip() == "":
            problems.append((f"rules.responsible.{branch}", "must be an amoCRM user id or login"))
        else:
            users[str(branch)] = str(user).strip()
    default = users.pop("default", None)
    return {"responsible": users, "default_responsible": default}


def _quiet_hours(value: Any, problems: Problems) -> tuple[time, time] | None:
    """``{start: "21:00", end: "09:00"}``; ``null`` or ``false`` turns quiet hours off."""
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        problems.append(("rules.quiet_hours", 'must be {start: "HH:MM", end: "HH:MM"} or null'))
        return None
    start = _clock(value["start"], "rules.quiet_hours.start", problems)
    end = _clock(value["end"], "rules.quiet_hours.end", problems)
    if start is None or end is None:
        return None
    if start == end:
        problems.append(("rules.quiet_hours", "start and end must differ"))
    return (start, end)


def _clock(value: Any, path: str, problems: Problems) -> time | None:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value) if isinstance(value, str) else None
    if match is None:
        problems.append((path, f'must be a time "HH:MM"; got {value!r}'))
        return None
    return time(int(match[1]), int(match[2]))


def _frequency_cap(value: Any, problems: Problems) -> tuple[int, int] | None:
    """``{messages: 2, days: 7}``; ``null`` or ``false`` turns the cap off."""
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping) or set(value) != {"messages", "days"}:
        problems.append(("rules.frequency_cap", "must be {messages: N, days: D} or null"))
        return None
    messages = _int(value["messages"], "rules.frequency_cap.messages", problems, 1, 100, 2)
    days = _int(value["days"], "rules.frequency_cap.days", problems, 1, 365, 7)
    return (messages, days)


def _channels(value: Any, problems: Problems) -> tuple[str, ...]:
    """The preference order: a list of names, or the channel settings mapping (its keys, in order)."""
    if isinstance(value, str):
        value = [value]
    elif isinstance(value, Mapping):
        value = list(value)
    if not isinstance(value, list | tuple) or not value or any(c not in CHANNELS for c in value):
        problems.append(("rules.channels", f"must be a non-empty list of {', '.join(CHANNELS)}"))
        return ("sms", "email")
    return tuple(dict.fromkeys(value))
