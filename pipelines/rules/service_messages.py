"""Booking messages (seed 001): confirmation, reminder before the visit, review request after it.

- Confirmation: when a booking that lies ahead is created or restored; once per booking.
- Reminder: scheduled ``pre_visit_reminder_hours`` before the start (moved to just before the quiet
  hours when it would fall in them). Not scheduled when the booking is made closer to the visit than
  that: the confirmation already is the reminder. A reschedule cancels the pending one and schedules
  a new one; a cancellation, no-show or completion cancels it.
- Review request: ``review_request_delay_hours`` after the visit's end (start + duration, 60 min when
  unknown), not for visits that ended more than ``review_request_max_age_hours`` ago (history imports,
  very late events).
"""

from __future__ import annotations

from datetime import timedelta

from pipelines.actions import Action, Skip
from pipelines.rules.context import Occasion
from pipelines.rules.messaging import cancel_pending, message
from pipelines.texts import local_date, local_time
from pipelines.timing import before_quiet_hours
from pipelines.transitions import Transition


def on_event(o: Occasion) -> list[Action]:
    rescheduled = Transition.RESCHEDULED in o.steps
    actions: list[Action] = []
    if o.is_new_booking and o.booking.start_at > o.now and o.policy.enabled("confirmation") and not o.is_history:
        actions.append(message(o, "confirmation", o.booking_id, _booking_context(o), booking_id=o.booking_id))
    if o.was_upcoming and (rescheduled or not o.booking.status.is_upcoming):
        actions.append(cancel_pending(o, "reminder_24h", o.booking_id, o.stamp, _why_cancel(o)))
    if (o.is_new_booking or rescheduled) and o.booking.status.is_upcoming and o.policy.enabled("reminder_24h"):
        actions.append(_reminder(o))
    if o.completed and o.policy.enabled("review_request"):
        actions.append(_review(o))
    return actions


def _booking_context(o: Occasion) -> dict[str, str | None]:
    tz = o.policy.timezone
    return {
        "name": o.client.name,
        "service": o.service_titles,
        "master": o.master,
        "branch": o.policy.branch_label(o.booking.branch),
        "date": local_date(o.booking.start_at, tz, o.language),
        "time": local_time(o.booking.start_at, tz),
    }


def _why_cancel(o: Occasion) -> str:
    return f"booking {o.booking_id} is now {o.booking.status.value}" + (
        " (rescheduled)" if o.booking.status.is_upcoming else ""
    )


def _reminder(o: Occasion) -> Action:
    hours = o.policy.pre_visit_reminder_hours
    ideal = o.booking.start_at - timedelta(hours=hours)
    if ideal <= o.now:
        reason = f"visit starts within {hours} h: the confirmation serves as the reminder"
        return Skip(key=f"skip:reminder_24h:{o.client.id}:{o.stamp}", rule="reminder_24h", reason=reason)
    at = max(before_quiet_hours(ideal, o.policy), o.now)
    return message(
        o, "reminder_24h", o.stamp, _booking_context(o), booking_id=o.booking_id, send_at=None if at == o.now else at
    )


def _review(o: Occasion) -> Action:
    end = o.booking.start_at + timedelta(minutes=o.booking.duration_min or 60)
    if o.now - end > timedelta(hours=o.policy.review_request_max_age_hours):
        reason = f"visit ended more than {o.policy.review_request_max_age_hours} h ago: no review request"
        return Skip(key=f"skip:review_request:{o.client.id}:{o.booking_id}", rule="review_request", reason=reason)
    at = max(end + timedelta(hours=o.policy.review_request_delay_hours), o.now)
    context = {"name": o.client.name, "master": o.master}
    return message(o, "review_request", o.booking_id, context, booking_id=o.booking_id, send_at=at)
