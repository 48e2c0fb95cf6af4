"""The birthday greeting (seed 001): a marketing message on the client's birthday, once a year.

The clock wakes the client at ``greeting_at`` (the birthday's local ``Policy.birthday_hour``; 29 February
is greeted on the 28th in common years), so no daily scan over every client is needed. The usual
message rules apply (opt-out, blacklist, reachability, quiet hours, the frequency cap); a greeting the
cap or quiet hours would push past the birthday itself is skipped rather than sent late, and so is one
whose wake-up comes after the day is over (the clock was stopped all day).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pipelines.actions import Action, SendMessage, Skip
from pipelines.policy import Policy
from pipelines.rules.context import Scene
from pipelines.rules.messaging import message

TEMPLATE = "birthday_greeting"


def birthday_in(born: date, year: int) -> date:
    """The date ``born`` is celebrated in ``year`` (29 February: the 28th in a common year)."""
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def greeting_at(born: date, year: int, policy: Policy) -> datetime:
    """When the greeting for the birthday in ``year`` is due: that local date at ``birthday_hour``."""
    return datetime.combine(birthday_in(born, year), time(policy.birthday_hour), tzinfo=policy.timezone)


def greeting_instants(born: date | None, policy: Policy, now: datetime) -> tuple[datetime, ...]:
    """This year's and next year's greeting times (for the wake-up), none when the trigger is off."""
    if born is None or not policy.enabled(TEMPLATE):
        return ()
    year = now.astimezone(policy.timezone).year
    return greeting_at(born, year, policy), greeting_at(born, year + 1, policy)


def on_clock(scene: Scene) -> list[Action]:
    """The greeting, when ``now`` lies on the client's birthday from its greeting hour on."""
    policy, born = scene.policy, scene.client.birthday
    if born is None or not policy.enabled(TEMPLATE):
        return []
    local = scene.now.astimezone(policy.timezone)
    today = birthday_in(born, local.year)
    if local.date() != today or scene.now < greeting_at(born, local.year, policy):
        return []
    day_ends = datetime.combine(today + timedelta(days=1), time(0), tzinfo=policy.timezone)
    context = {"name": scene.client.name, "bonus": policy.birthday_offer, "branch": _branch(scene)}
    action = message(scene, TEMPLATE, str(local.year), context)
    if isinstance(action, SendMessage) and action.send_at is not None and action.send_at >= day_ends:
        return [Skip(key=f"skip:{action.key}", rule=TEMPLATE,
                     reason="quiet hours or the frequency cap would hold it past the birthday")]
    return [action]


def _branch(scene: Scene) -> str:
    last = scene.last_visit()
    return scene.policy.branch_label(last.branch if last else None)
