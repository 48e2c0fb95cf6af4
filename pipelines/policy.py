"""Policy: a tenant's rules as plain values, never read from env.

The tenant file is validated where it is loaded (config/, at start-up and by ``salonbridge check``) and
``bridge.tenancy.policy_of`` builds each tenant's Policy from the checked values once per process.
The defaults live here only: documented on each field and in docs/playbook.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from config.prepayment_model import PrepaymentConfig
from config.reconnect_model import ReconnectSettings
from config.vocabulary import LANGUAGES
from pipelines.catalog import CatalogOverrides
from pipelines.stages import STAGE_NAMES, Pipeline

# Automations a tenant can switch off; all but the repeat-visit promo are on by default.
TRIGGERS: tuple[str, ...] = (
    "welcome",  # Sales: welcome message with the first-booking bonus
    "sales_call_task",  # Sales: call task after a first booking's no-show / cancellation
    "confirmation",  # booking confirmation message
    "reminder_24h",  # reminder before the visit
    "review_request",  # review request after a completed visit
    "repeat_reminder",  # Repeat visits: reminder before the due date
    "repeat_promo",  # Repeat visits: promo on the due date (optional)
    "lost_sequence",  # Lost clients: the whole win-back sequence
    "lost_master_promo",  # Lost clients: the "come back to <master>" step's message
    "birthday_greeting",  # a greeting on the client's birthday (off by default)
)
DEFAULT_TRIGGERS = frozenset(TRIGGERS) - {"repeat_promo", "birthday_greeting"}
__all__ = ["DEFAULT_TRIGGERS", "LANGUAGES", "TRIGGERS", "Policy"]


@dataclass(frozen=True)
class Policy:
    tenant: str
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_hour: int = 10  # tasks fall due at this local hour
    language: str = "ru"  # of messages, task texts and default stage names
    catalog: CatalogOverrides = field(default_factory=CatalogOverrides, hash=False)
    triggers: frozenset[str] = DEFAULT_TRIGGERS
    promo: bool = True  # master switch for promotional messages (repeat promo, come-back promo)
    promo_offer: str = ""  # the offer text a promo carries ({{ bonus }})
    welcome_bonus: str = ""  # the first-booking bonus text in the welcome message
    reminder_lead_days: int | None = None  # None: 7 d for periods <= 30 d, else min(30, period // 2)
    lost_after_days: int = 30  # days past the due date with no booking before a client counts as lost
    lost_after_by_category: Mapping[str, int] = field(default_factory=dict, hash=False)  # canonical category -> days
    lost_step_days: tuple[int, int, int] = (7, 7, 14)  # reminder -> promo -> call task -> lost for good
    stage_names: Mapping[Pipeline, Mapping[str, str]] = field(default_factory=dict, hash=False)  # overrides
    sales_no_show_stage: str = "no_show"
    sales_cancelled_stage: str = "cancelled"
    responsible: Mapping[str, str] = field(default_factory=dict, hash=False)  # branch id -> amoCRM user
    default_responsible: str | None = None  # None: the amoCRM account's default user
    pre_visit_reminder_hours: int = 24
    review_request_delay_hours: int = 2  # after the visit's end
    review_request_max_age_hours: int = 72  # older visits (imports, late events) get no review request
    quiet_hours: tuple[time, time] | None = (time(21), time(9))  # local [start, end): no marketing
    frequency_cap: tuple[int, int] | None = (2, 7)  # at most N marketing messages per D days
    channels: tuple[str, ...] = ("sms", "email")  # preference order
    favourite_master_visits: int = 5  # how many recent visits decide the favourite master
    salon_name: str = ""  # shown where a message names the place and the branch is unknown
    branch_names: Mapping[str, str] = field(default_factory=dict, hash=False)  # branch id -> name
    currency: str = "RUB"  # the tenant's ISO 4217 currency
    prepayment: PrepaymentConfig | None = field(default=None, hash=False)  # None: no prepayment (seed 003)
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)  # campaigns and follow-ups (seed 004)
    history_grace_days: int = 14  # history mode: a cycle due longer ago than this gets no task
    birthday_hour: int = 10  # local hour of the birthday greeting (quiet hours still apply)
    birthday_offer: str = ""  # the gift a birthday greeting carries ({{ bonus }})

    def enabled(self, trigger: str) -> bool:
        return trigger in self.triggers

    def reminder_lead(self, period_days: int) -> int:
        """Days before the due date the repeat reminder goes out."""
        if self.reminder_lead_days is not None:
            return min(self.reminder_lead_days, period_days)
        return 7 if period_days <= 30 else min(30, period_days // 2)

    def lost_after(self, category: str) -> int:
        return self.lost_after_by_category.get(category, self.lost_after_days)

    def stage_name(self, pipeline: Pipeline, stage: str) -> str:
        own = self.stage_names.get(pipeline, {})
        return own.get(stage) or STAGE_NAMES.get(self.language, STAGE_NAMES["en"])[pipeline][stage]

    def responsible_for(self, branch: str | None) -> str | None:
        return self.responsible.get(branch or "", self.default_responsible)

    def branch_label(self, branch: str | None) -> str:
        return self.branch_names.get(branch or "") or self.salon_name
