"""Default email subjects per template and language (the texts in ``pipelines.templates`` have none).

Same placeholder rules as the texts: a subject uses only placeholders its template declares.
"""

from __future__ import annotations

# fmt: off
SUBJECTS: dict[str, dict[str, str]] = {
    "welcome": {
        "ru": "Добро пожаловать, {{ name }}!",
        "uk": "Вітаємо, {{ name }}!",
        "en": "Welcome, {{ name }}!",
    },
    "confirmation": {
        "ru": "Вы записаны: {{ date }} в {{ time }}",
        "uk": "Ви записані: {{ date }} о {{ time }}",
        "en": "You are booked: {{ date }} at {{ time }}",
    },
    "reminder_24h": {
        "ru": "Напоминание о визите {{ date }} в {{ time }}",
        "uk": "Нагадування про візит {{ date }} о {{ time }}",
        "en": "Reminder: your visit on {{ date }} at {{ time }}",
    },
    "review_request": {
        "ru": "Как прошёл ваш визит?",
        "uk": "Як минув ваш візит?",
        "en": "How was your visit?",
    },
    "repeat_reminder": {
        "ru": "Пора повторить: {{ service }}",
        "uk": "Час повторити: {{ service }}",
        "en": "Time for your next {{ service }}",
    },
    "promo": {
        "ru": "Предложение для вас: {{ service }}",
        "uk": "Пропозиція для вас: {{ service }}",
        "en": "An offer for you: {{ service }}",
    },
    "reconnect_first": {
        "ru": "{{ name }}, мы скучаем",
        "uk": "{{ name }}, ми скучили",
        "en": "{{ name }}, we miss you",
    },
    "reconnect_follow_up": {
        "ru": "Пора обновить: {{ service }}",
        "uk": "Час оновити: {{ service }}",
        "en": "Time to refresh your {{ service }}",
    },
    "lost_reminder": {
        "ru": "Мы скучаем, {{ name }}",
        "uk": "Ми сумуємо, {{ name }}",
        "en": "We miss you, {{ name }}",
    },
    "prepayment_link": {
        "ru": "Предоплата за запись {{ date }} в {{ time }}",
        "uk": "Передоплата за запис {{ date }} о {{ time }}",
        "en": "Prepayment for your booking on {{ date }} at {{ time }}",
    },
    "prepayment_paid": {
        "ru": "Предоплата получена: {{ date }} в {{ time }}",
        "uk": "Передоплату отримано: {{ date }} о {{ time }}",
        "en": "Prepayment received: {{ date }} at {{ time }}",
    },
    "prepayment_expired": {
        "ru": "Запись {{ date }} отменена",
        "uk": "Запис {{ date }} скасовано",
        "en": "Your booking on {{ date }} is cancelled",
    },
    "lost_master_promo": {
        "ru": "{{ master }} ждёт вас снова",
        "uk": "{{ master }} чекає на вас знову",
        "en": "{{ master }} would love to see you again",
    },
    "campaign": {
        "ru": "{{ name }}, для вас",
        "uk": "{{ name }}, для вас",
        "en": "{{ name }}, for you",
    },
    "birthday_greeting": {
        "ru": "С днём рождения, {{ name }}!",
        "uk": "З днем народження, {{ name }}!",
        "en": "Happy birthday, {{ name }}!",
    },
}
# fmt: on


def default_subject(template_id: str, language: str) -> str | None:
    """The default subject (Russian when the language is unknown), None for templates without one."""
    variants = SUBJECTS.get(template_id)
    if not variants:
        return None
    return variants.get(language) or variants["ru"]
