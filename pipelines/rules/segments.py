"""Segment fields (seed 002: activity by master and by branch) written on contacts and Lost leads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from pipelines.catalog import category_label, shortest_periods
from pipelines.rules.context import Occasion, Scene
from pipelines.snapshot import VisitState
from pipelines.timing import due_at
from pipelines.visit_history import render_visit_history


def favourite_master(completed: Sequence[VisitState], window: int) -> str | None:
    """The master of most of the last ``window`` visits (newest first); ties go to the most recent."""
    recent = [v.staff_name or v.staff_id for v in completed[:window]]
    counts = Counter(m for m in recent if m)
    if not counts:
        return None
    best = max(counts.values())
    return next(m for m in recent if m and counts[m] == best)


def card_fields(o: Occasion, completed: Sequence[VisitState]) -> dict[str, str]:
    """The client card on the contact: visits_count, total_spend, next_due, source, card_type, balance,
    blacklisted (the select's option key).

    ``completed`` includes the event's own visit (newest first); next_due is the earliest due date of
    the cycles this visit opens (or, for a visit a later one already followed, of the cycle that one
    opened) and of the client's other open cycles.
    """
    spend = sum((v.price for v in completed if v.price is not None), Decimal(0))
    dues = []
    for category, (days, _) in shortest_periods(o.booking.services, o.policy).items():
        cycle = o.snapshot.cycle(category)
        later = cycle is not None and cycle.anchor_visit_id != o.booking_id and cycle.due_at > due_at(
            o.booking.start_at, days, o.policy) and o.next_in(category) is not None
        dues.append(cycle.due_at if later and cycle else due_at(o.booking.start_at, days, o.policy))
    dues += [c.due_at for c in o.snapshot.cycles if c.category not in o.categories]
    fields = {"visits_count": str(len(completed)), "total_spend": str(spend)}
    if dues:
        fields["next_due"] = min(dues).astimezone(o.policy.timezone).isoformat()
    return {**fields, **client_card_fields(o.client.acquisition, o.client.card_type, o.client.balance,
                                           o.client.blacklisted)}


def client_card_fields(source: str | None, card_type: str | None, balance: Decimal | None,
                       blacklisted: bool) -> dict[str, str]:
    """The card's own fields on the contact, for bookings and for cards edited by hand alike; a value the
    card lacks is left out (amoCRM keeps what people typed there)."""
    fields = {"source": source or "", "card_type": card_type or "",
              "balance": str(balance) if balance is not None else "", "blacklisted": "yes" if blacklisted else "no"}
    return {k: v for k, v in fields.items() if v}


def segment_fields(scene: Scene, completed: Sequence[VisitState]) -> dict[str, str]:
    """branch, favourite_master, last_category, last_visit of ``completed``, whatever their order (an
    older visit's completion may be reported after a newer one's: the last visit stays the newest)."""
    if not completed:
        return {}
    completed = sorted(completed, key=lambda v: (v.start_at, v.external_id), reverse=True)
    last = completed[0]
    master = favourite_master(completed, scene.policy.favourite_master_visits)
    fields = {
        "branch": scene.policy.branch_label(last.branch) or (last.branch or ""),
        "favourite_master": master or "",
        "last_category": ", ".join(category_label(c, scene.language) for c in last.categories),
        # a date field: RFC 3339 (amoCRM's accepted write format), not the localized text
        "last_visit": last.start_at.astimezone(scene.policy.timezone).isoformat(),
    }
    return {k: v for k, v in fields.items() if v}


def history_fields(scene: Scene, completed: Sequence[VisitState]) -> dict[str, str]:
    """``visit_history``: the latest completed visits with their services, master, branch, amount and
    goods as the text of one contact field (pipelines.visit_history), so the admin sees them in amoCRM."""
    text = render_visit_history(completed, tz=scene.policy.timezone, language=scene.language,
                                branch_label=scene.policy.branch_label)
    return {"visit_history": text} if text else {}
