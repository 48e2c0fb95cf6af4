"""The three amoCRM pipelines and their stages.

Stage *keys* are fixed in code (the rules speak in keys); stage *names* are what amoCRM users see and
come per language, overridable per tenant (``Policy.stage_names``). ``won`` and ``lost`` are amoCRM's
closing statuses (142/143), present in every pipeline.
"""

from __future__ import annotations

from enum import StrEnum


class Pipeline(StrEnum):
    SALES = "sales"
    REPEAT = "repeat"
    LOST = "lost"


class Outcome(StrEnum):
    """Where a move leaves the lead: still open, or closed as won / lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


WON = "won"
LOST = "lost"
# The seed's grey clock: a first booking waits here for its prepayment (seed 003); paid moves it on to
# "first_booking", expired to the cancelled stage. Only the prepayment rules put a lead here.
PREPAYMENT = "prepayment"

# Open stages in funnel order, then the two closing ones. The order matters for forward-only moves.
STAGES: dict[Pipeline, tuple[str, ...]] = {
    Pipeline.SALES: (PREPAYMENT, "first_booking", "no_show", "cancelled", WON, LOST),
    Pipeline.REPEAT: ("next_visit_expected", "reminder_due", "contacted", WON, LOST),
    Pipeline.LOST: ("reminder", "come_back_promo", "manager_call", WON, LOST),
}

PIPELINE_NAMES: dict[str, dict[Pipeline, str]] = {
    "ru": {Pipeline.SALES: "Продажи", Pipeline.REPEAT: "Повторные визиты", Pipeline.LOST: "Потерянные клиенты"},
    "uk": {Pipeline.SALES: "Продажі", Pipeline.REPEAT: "Повторні візити", Pipeline.LOST: "Втрачені клієнти"},
    "en": {Pipeline.SALES: "Sales", Pipeline.REPEAT: "Repeat visits", Pipeline.LOST: "Lost clients"},
}

STAGE_NAMES: dict[str, dict[Pipeline, dict[str, str]]] = {
    "ru": {
        Pipeline.SALES: {
            PREPAYMENT: "Ждём предоплату",
            "first_booking": "Первая запись",
            "no_show": "Не пришёл",
            "cancelled": "Отменил запись",
            WON: "Первый визит состоялся",
            LOST: "Не состоялся",
        },
        Pipeline.REPEAT: {
            "next_visit_expected": "Ждём следующий визит",
            "reminder_due": "Пора напомнить",
            "contacted": "Связались",
            WON: "Записался повторно",
            LOST: "Не вернулся",
        },
        Pipeline.LOST: {
            "reminder": "Напоминание",
            "come_back_promo": "Акция «вернитесь к мастеру»",
            "manager_call": "Звонок менеджера",
            WON: "Вернулся",
            LOST: "Потерян окончательно",
        },
    },
    "uk": {
        Pipeline.SALES: {
            PREPAYMENT: "Чекаємо передоплату",
            "first_booking": "Перший запис",
            "no_show": "Не прийшов",
            "cancelled": "Скасував запис",
            WON: "Перший візит відбувся",
            LOST: "Не відбувся",
        },
        Pipeline.REPEAT: {
            "next_visit_expected": "Чекаємо наступний візит",
            "reminder_due": "Час нагадати",
            "contacted": "Зв'язалися",
            WON: "Записався повторно",
            LOST: "Не повернувся",
        },
        Pipeline.LOST: {
            "reminder": "Нагадування",
            "come_back_promo": "Акція «поверніться до майстра»",
            "manager_call": "Дзвінок менеджера",
            WON: "Повернувся",
            LOST: "Втрачений остаточно",
        },
    },
    "en": {
        Pipeline.SALES: {
            PREPAYMENT: "Prepayment pending",
            "first_booking": "First booking",
            "no_show": "No-show",
            "cancelled": "Cancelled",
            WON: "First visit done",
            LOST: "Not converted",
        },
        Pipeline.REPEAT: {
            "next_visit_expected": "Next visit expected",
            "reminder_due": "Reminder due",
            "contacted": "Contacted",
            WON: "Rebooked",
            LOST: "Not returned",
        },
        Pipeline.LOST: {
            "reminder": "Reminder",
            "come_back_promo": "Come back to your master",
            "manager_call": "Manager call",
            WON: "Returned",
            LOST: "Lost for good",
        },
    },
}


def stage_rank(pipeline: Pipeline, stage: str) -> int:
    """Position of ``stage`` in the funnel; robot moves only ever go to a higher rank."""
    return STAGES[pipeline].index(stage)


def outcome_of(stage: str) -> Outcome:
    return {WON: Outcome.WON, LOST: Outcome.LOST}.get(stage, Outcome.OPEN)
