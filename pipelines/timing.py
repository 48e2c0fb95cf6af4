"""Calendar arithmetic in the tenant's timezone: due dates, quiet hours, the frequency cap.

All wall-clock reasoning happens in the tenant's zone (zoneinfo handles DST), results are aware
datetimes. Nothing reads the clock: ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from pipelines.policy import Policy
from pipelines.snapshot import Cycle, LostProgress, LostStep

_BEFORE_QUIET = timedelta(minutes=1)


def due_at(visit_start: datetime, days: int, policy: Policy) -> datetime:
    """Visit's local date + ``days``, at the tenant's working hour (seed 000's deadline)."""
    day = visit_start.astimezone(policy.timezone).date() + timedelta(days=days)
    return datetime.combine(day, time(policy.working_hour), tzinfo=policy.timezone)


def reminder_at(cycle: Cycle, policy: Policy) -> datetime:
    """From here the repeat reminder goes out (``Policy.reminder_lead`` days before the due date)."""
    return cycle.due_at - timedelta(days=policy.reminder_lead(cycle.period_days))


def lost_at(cycle: Cycle, policy: Policy) -> datetime:
    """From here, with no booking to come, the cycle counts as lost (the Lost clients rules own it)."""
    return cycle.due_at + timedelta(days=policy.lost_after(cycle.category))


_STEP_GAP = {LostStep.REMINDER: 0, LostStep.PROMO: 1, LostStep.CALL: 2}


def next_step_at(progress: LostProgress, policy: Policy) -> datetime:
    """When a running win-back sequence may take its next step (``Policy.lost_step_days`` apart)."""
    return progress.step_at + timedelta(days=policy.lost_step_days[_STEP_GAP[progress.step]])


def _quiet(local: time, window: tuple[time, time]) -> bool:
    start, end = window
    return start <= local < end if start < end else (local >= start or local < end)


def after_quiet_hours(at: datetime, policy: Policy) -> datetime:
    """``at``, or the end of the quiet hours it falls in."""
    window = policy.quiet_hours
    local = at.astimezone(policy.timezone)
    if window is None or not _quiet(local.time(), window):
        return at
    start, end = window
    day = local.date() + timedelta(days=1 if start > end and local.time() >= start else 0)
    return datetime.combine(day, end, tzinfo=policy.timezone)


def before_quiet_hours(at: datetime, policy: Policy) -> datetime:
    """``at``, or the last minute before the quiet hours it falls in began."""
    window = policy.quiet_hours
    local = at.astimezone(policy.timezone)
    if window is None or not _quiet(local.time(), window):
        return at
    start, end = window
    day = local.date() - timedelta(days=1 if start > end and local.time() < end else 0)
    return datetime.combine(day, start, tzinfo=policy.timezone) - _BEFORE_QUIET


def after_frequency_cap(sent: Iterable[datetime], policy: Policy, now: datetime) -> datetime:
    """The first moment from ``now`` when one more marketing message stays within the cap."""
    if policy.frequency_cap is None:
        return now
    limit, days = policy.frequency_cap
    recent = sorted((t for t in sent if t > now - timedelta(days=days)), reverse=True)
    if len(recent) < limit:
        return now
    return max(now, recent[limit - 1] + timedelta(days=days))
