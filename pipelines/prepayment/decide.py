"""Which bookings need a prepayment, how much, and by when (seed 003; DESIGN §6 rule 10).

Order of the checks, so the reason names what decided: the section is on → the booking still expects
the client → the first rule (in file order) that matches the booking → the client is not exempt → an
amount can be computed → a deadline can be met.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from config.prepayment_model import (
    AmountKind,
    AmountSpec,
    DeadlineRule,
    Exemptions,
    PrepaymentConfig,
    PrepaymentRule,
    TooClose,
)
from pipelines.catalog import canonical_category, normalize
from pipelines.events import Booking, ServiceLine
from pipelines.prepayment.money import round_amount

LineCategories = Callable[[ServiceLine], tuple[str, ...]]


class Reason(StrEnum):
    RULE = "rule"  # required: a rule matched
    DISABLED = "disabled"  # the section has enabled: false
    NOT_UPCOMING = "not_upcoming"  # cancelled, completed, no-show, or already started
    NO_RULE = "no_rule"
    EXEMPT = "exempt"  # detail says by what: "tag club", "card_type Gold", "segment VIP", "visits 7"
    NO_PRICE = "no_price"  # a percent rule, but the matched services carry no price
    NO_DURATION = "no_duration"  # an hourly rule, but the booking has no duration
    TOO_CLOSE = "too_close"  # booked too close to the visit and too_close is "skip"


@dataclass(frozen=True)
class ClientFacts:
    """What the exemptions look at; the caller fills it from the store (segments are computed there)."""

    tags: frozenset[str] = frozenset()
    card_type: str | None = None
    segments: frozenset[str] = frozenset()
    completed_visits: int = 0


@dataclass(frozen=True)
class PrepaymentDecision:
    required: bool
    reason: Reason
    detail: str = ""
    rule: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    deadline_at: datetime | None = None
    immediate: bool = False  # booked too close to the visit: the short deadline applies


def default_categories(line: ServiceLine) -> tuple[str, ...]:
    category = canonical_category(line.category)
    return (category,) if category else ()


def decide(
    config: PrepaymentConfig,
    booking: Booking,
    client: ClientFacts,
    *,
    currency: str,
    timezone: ZoneInfo,
    now: datetime,
    booked_at: datetime | None = None,
    line_categories: LineCategories = default_categories,
) -> PrepaymentDecision:
    """Whether ``booking`` needs a prepayment. ``booked_at`` defaults to the booking's ``created_at``, else
    ``now``; ``line_categories`` gives a service line's canonical categories (packages count for several:
    pass ``lambda line: categories_of(line, policy)``)."""
    if not config.enabled:
        return PrepaymentDecision(False, Reason.DISABLED)
    if not booking.status.is_upcoming or booking.start_at <= now:
        return PrepaymentDecision(False, Reason.NOT_UPCOMING, booking.status.value)
    found = first_rule(config, booking, timezone, line_categories)
    if found is None:
        return PrepaymentDecision(False, Reason.NO_RULE)
    rule, lines = found
    exempt = exemption(config.exempt, client)
    if exempt:
        return PrepaymentDecision(False, Reason.EXEMPT, exempt, rule.name)
    spec = rule.amount or config.amount
    if spec is None:  # the schema refuses this; a hand-built config may not
        raise ValueError(f"prepayment rule {rule.name!r} has no amount and the section no default")
    amount, missing = compute_amount(spec, booking, lines, currency)
    if amount is None:
        return PrepaymentDecision(False, missing or Reason.NO_PRICE, rule=rule.name)
    deadline, immediate = payment_deadline(config.deadline, booked_at or booking.created_at or now,
                                           booking.start_at, now)
    if deadline is None:
        return PrepaymentDecision(False, Reason.TOO_CLOSE, rule=rule.name, amount=amount, currency=currency)
    return PrepaymentDecision(True, Reason.RULE, "", rule.name, amount, currency, deadline, immediate)


def first_rule(
    config: PrepaymentConfig, booking: Booking, timezone: ZoneInfo, line_categories: LineCategories
) -> tuple[PrepaymentRule, tuple[ServiceLine, ...]] | None:
    """The first rule matching the booking, with the service lines it matched (every line for a rule
    that selects no services)."""
    day = booking.start_at.astimezone(timezone).date()
    promo = _names(config.promo_services)
    for rule in config.rules:
        if rule.periods and not any(p.contains(day) for p in rule.periods):
            continue
        if rule.branches and booking.branch not in rule.branches:
            continue
        if not rule.selects_services:
            return rule, booking.services
        lines = tuple(line for line in booking.services if _selects(rule, promo, line, line_categories))
        if lines:
            return rule, lines
    return None


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize(v) for v in values)


def _selects(rule: PrepaymentRule, promo: frozenset[str], line: ServiceLine, categories: LineCategories) -> bool:
    keys = {normalize(line.external_id), normalize(line.title)}
    if keys & _names(rule.services) or (rule.promo and keys & promo):
        return True
    wanted = {canonical_category(c) for c in rule.categories}
    return bool(wanted & set(categories(line)))


def exemption(exempt: Exemptions, client: ClientFacts) -> str:
    """Why the client books without prepayment ("" when they do not)."""
    tags = {normalize(t): t for t in client.tags}
    tag = next((tags[normalize(t)] for t in exempt.tags if normalize(t) in tags), None)
    if tag:
        return f"tag {tag}"
    if client.card_type and normalize(client.card_type) in _names(exempt.card_types):
        return f"card_type {client.card_type}"
    segments = {normalize(s): s for s in client.segments}
    segment = next((segments[normalize(s)] for s in exempt.segments if normalize(s) in segments), None)
    if segment:
        return f"segment {segment}"
    if exempt.completed_visits is not None and client.completed_visits >= exempt.completed_visits:
        return f"visits {client.completed_visits}"
    return ""


def compute_amount(
    spec: AmountSpec, booking: Booking, lines: tuple[ServiceLine, ...], currency: str
) -> tuple[Decimal | None, Reason | None]:
    """The amount rounded to the currency's minor unit, or None and the reason it cannot be computed."""
    if spec.kind is AmountKind.FIXED:
        raw = spec.value
    elif spec.kind is AmountKind.PERCENT:
        priced = [line.price * line.quantity for line in lines if line.price is not None]
        base = sum(priced, Decimal(0)) if priced else None
        if base is None and len(lines) == len(booking.services):  # every service counts: the total will do
            base = booking.total_price
        if not base or base <= 0:
            return None, Reason.NO_PRICE
        raw = base * spec.value / 100
    else:
        if not booking.duration_min:
            return None, Reason.NO_DURATION
        staff = booking.staff.external_id if booking.staff else None
        rate = spec.staff_rates.get(staff, spec.value) if staff else spec.value
        raw = rate * booking.duration_min / 60
    if spec.minimum is not None:
        raw = max(raw, spec.minimum)
    if spec.maximum is not None:
        raw = min(raw, spec.maximum)
    amount = round_amount(raw, currency)
    return (amount, None) if amount > 0 else (None, Reason.NO_PRICE)


def payment_deadline(
    rule: DeadlineRule, booked_at: datetime, visit_at: datetime, now: datetime
) -> tuple[datetime | None, bool]:
    """(deadline, immediate). The deadline is ``hours_after_booking`` after booking but no later than
    ``hours_before_visit`` before the visit, and never sooner than ``immediate_minutes`` from now. When
    that window does not exist the booking is too close: ``immediate`` gives ``immediate_minutes``
    (ending no later than the visit), ``skip`` gives None."""
    window = timedelta(minutes=rule.immediate_minutes)
    latest = visit_at - timedelta(hours=rule.hours_before_visit)
    if latest >= now + window:
        usual = min(booked_at + timedelta(hours=rule.hours_after_booking), latest)
        return max(usual, now + window), False
    if rule.too_close is TooClose.SKIP or visit_at <= now:
        return None, False
    return min(now + window, visit_at), True
