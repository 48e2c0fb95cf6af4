"""Default client message templates per language, as plain data.

Texts use Jinja2 placeholder syntax (``{{ name }}``); rendering happens outside ``pipelines`` in a
Jinja2 sandbox, where tenants may also replace these texts. ``link`` is the signed link to the client's
own page, filled in by the executor; every other placeholder comes from SendMessage.context.
In Russian and Ukrainian a placeholder only stands where its value keeps its dictionary form (a label
after a colon, a subject, an apposition such as "мастер {{ master }}"): names of people, branches and
services cannot be declined by a template ("у Поділ", "мастера Наталія" would be wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Transactional: about a booking the client made; sent even after an opt-out, never held back.
# Service: a direct answer to the client's own action; stopped by opt-out, held out of quiet hours.
# Marketing: our initiative; stopped by opt-out, held out of quiet hours and behind the frequency cap.
TRANSACTIONAL, SERVICE, MARKETING = "transactional", "service", "marketing"


@dataclass(frozen=True)
class Template:
    id: str
    placeholders: tuple[str, ...]
    texts: dict[str, str]  # language -> text
    kind: str  # TRANSACTIONAL, SERVICE or MARKETING: decides opt-out, quiet hours and the cap


# fmt: off
TEMPLATES: dict[str, Template] = {t.id: t for t in (
    Template("welcome", ("name", "bonus", "branch", "link"), {
        "ru": "{{ name }}, добро пожаловать! {{ branch }}"
              "{% if bonus %}: ваш бонус на первую запись — {{ bonus }}{% endif %}. Подробности: {{ link }}",
        "uk": "{{ name }}, вітаємо! {{ branch }}"
              "{% if bonus %}: ваш бонус на перший запис — {{ bonus }}{% endif %}. Деталі: {{ link }}",
        "en": "{{ name }}, welcome to {{ branch }}!{% if bonus %} Your first-booking bonus: {{ bonus }}.{% endif %} "
              "Details: {{ link }}",
    }, SERVICE),
    Template("confirmation", ("name", "service", "master", "branch", "date", "time", "link"), {
        "ru": "{{ name }}, вы записаны: {{ service }}, мастер {{ master }}, {{ date }} в {{ time }}, "
              "{{ branch }}. Управлять записью: {{ link }}",
        "uk": "{{ name }}, ви записані: {{ service }}, майстер {{ master }}, {{ date }} о {{ time }}, "
              "{{ branch }}. Керувати записом: {{ link }}",
        "en": "{{ name }}, you are booked: {{ service }} with {{ master }}, {{ date }} at {{ time }}, "
              "{{ branch }}. Manage your booking: {{ link }}",
    }, TRANSACTIONAL),
    Template("reminder_24h", ("name", "service", "master", "branch", "date", "time", "link"), {
        "ru": "{{ name }}, напоминаем: {{ date }} в {{ time }} — {{ service }}, мастер {{ master }}, "
              "{{ branch }}. Перенести или отменить: {{ link }}",
        "uk": "{{ name }}, нагадуємо: {{ date }} о {{ time }} — {{ service }}, майстер {{ master }}, "
              "{{ branch }}. Перенести чи скасувати: {{ link }}",
        "en": "{{ name }}, a reminder: {{ service }} with {{ master }} on {{ date }} at {{ time }}, "
              "{{ branch }}. Reschedule or cancel: {{ link }}",
    }, TRANSACTIONAL),
    Template("review_request", ("name", "master", "link"), {
        "ru": "{{ name }}, спасибо за визит! Мастер: {{ master }}. Как всё прошло? Оцените: {{ link }}",
        "uk": "{{ name }}, дякуємо за візит! Майстер: {{ master }}. Як усе минуло? Оцініть: {{ link }}",
        "en": "{{ name }}, thank you for your visit! How did {{ master }} do? {{ link }}",
    }, SERVICE),
    Template("repeat_reminder", ("name", "service", "date", "link"), {
        "ru": "{{ name }}, подходит время повторить процедуру: {{ service }} (последний визит {{ date }}). "
              "Записаться: {{ link }}",
        "uk": "{{ name }}, настає час повторити процедуру: {{ service }} (останній візит {{ date }}). "
              "Записатися: {{ link }}",
        "en": "{{ name }}, it is nearly time for your next {{ service }} (last visit {{ date }}). "
              "Book: {{ link }}",
    }, MARKETING),
    Template("promo", ("name", "service", "bonus", "link"), {
        "ru": "{{ name }}, для вас: {{ bonus }} (процедура: {{ service }}). Записаться: {{ link }}",
        "uk": "{{ name }}, для вас: {{ bonus }} (процедура: {{ service }}). Записатися: {{ link }}",
        "en": "{{ name }}, for your next {{ service }}: {{ bonus }}. Book: {{ link }}",
    }, MARKETING),
    Template("lost_reminder", ("name", "branch", "link"), {
        "ru": "{{ name }}, давно не виделись! Ждём вас снова (филиал: {{ branch }}). Записаться: {{ link }}",
        "uk": "{{ name }}, давно не бачились! Чекаємо на вас знову (філія: {{ branch }}). Записатися: {{ link }}",
        "en": "{{ name }}, we have missed you at {{ branch }}! Book your next visit: {{ link }}",
    }, MARKETING),
    Template("prepayment_link", ("name", "service", "date", "time", "amount", "deadline", "link"), {
        "ru": "{{ name }}, чтобы подтвердить запись ({{ service }}, {{ date }} в {{ time }}), внесите "
              "предоплату {{ amount }} до {{ deadline }}: {{ link }}",
        "uk": "{{ name }}, щоб підтвердити запис ({{ service }}, {{ date }} о {{ time }}), внесіть "
              "передоплату {{ amount }} до {{ deadline }}: {{ link }}",
        "en": "{{ name }}, to confirm {{ service }} on {{ date }} at {{ time }}, please pay {{ amount }} "
              "in advance by {{ deadline }}: {{ link }}",
    }, TRANSACTIONAL),
    Template("prepayment_paid", ("name", "service", "date", "time", "amount", "receipt", "link"), {
        "ru": "{{ name }}, предоплата {{ amount }} получена (квитанция {{ receipt }}). Ждём вас {{ date }} "
              "в {{ time }}: {{ service }}. {{ link }}",
        "uk": "{{ name }}, передоплату {{ amount }} отримано (квитанція {{ receipt }}). Чекаємо на вас "
              "{{ date }} о {{ time }}: {{ service }}. {{ link }}",
        "en": "{{ name }}, your prepayment of {{ amount }} is received (receipt {{ receipt }}). See you on "
              "{{ date }} at {{ time }}: {{ service }}. {{ link }}",
    }, TRANSACTIONAL),
    Template("prepayment_expired", ("name", "service", "date", "time", "link"), {
        "ru": "{{ name }}, предоплата по записи ({{ service }}, {{ date }} в {{ time }}) не поступила вовремя, "
              "запись отменена. Записаться снова: {{ link }}",
        "uk": "{{ name }}, передоплата за записом ({{ service }}, {{ date }} о {{ time }}) не надійшла вчасно, "
              "запис скасовано. Записатися знову: {{ link }}",
        "en": "{{ name }}, the prepayment for {{ service }} on {{ date }} at {{ time }} did not arrive in time, "
              "so the booking is cancelled. Book again: {{ link }}",
    }, TRANSACTIONAL),
    Template("lost_master_promo", ("name", "master", "bonus", "link"), {
        "ru": "{{ name }}, {{ master }} ждёт вас снова! Для вас: {{ bonus }}. Записаться: {{ link }}",
        "uk": "{{ name }}, {{ master }} чекає на вас знову! Для вас: {{ bonus }}. Записатися: {{ link }}",
        "en": "{{ name }}, {{ master }} would love to see you again! For you: {{ bonus }}. Book: {{ link }}",
    }, MARKETING),
    Template("reconnect_first", ("name", "service", "date", "branch", "link"), {
        "ru": "{{ name }}, мы скучаем! Последний визит: {{ service }}, {{ date }}. "
              "Ждём вас снова. Филиал: {{ branch }}. Записаться: {{ link }}",
        "uk": "{{ name }}, ми скучили! Останній візит: {{ service }}, {{ date }}. "
              "Чекаємо на вас знову. Філія: {{ branch }}. Записатися: {{ link }}",
        "en": "{{ name }}, we miss you! Your last {{ service }} was on {{ date }}. "
              "See you again at {{ branch }}. Book: {{ link }}",
    }, MARKETING),
    Template("reconnect_follow_up", ("name", "service", "branch", "link"), {
        "ru": "{{ name }}, напоминаем: пора повторить — {{ service }}. Филиал: {{ branch }}. "
              "Свободное время: {{ link }}",
        "uk": "{{ name }}, нагадуємо: час повторити — {{ service }}. Філія: {{ branch }}. Вільний час: {{ link }}",
        "en": "{{ name }}, a reminder: time to refresh your {{ service }}. Free slots at {{ branch }}: {{ link }}",
    }, MARKETING),
    Template("campaign", ("name", "text", "link"), {
        "ru": "{{ name }}, {{ text }} Подробнее: {{ link }}",
        "uk": "{{ name }}, {{ text }} Деталі: {{ link }}",
        "en": "{{ name }}, {{ text }} More: {{ link }}",
    }, MARKETING),
    Template("birthday_greeting", ("name", "bonus", "branch", "link"), {
        "ru": "{{ name }}, с днём рождения!{% if bonus %} {{ branch }} дарит вам: {{ bonus }}.{% endif %} "
              "Записаться: {{ link }}",
        "uk": "{{ name }}, з днем народження!{% if bonus %} {{ branch }} дарує вам: {{ bonus }}.{% endif %} "
              "Записатися: {{ link }}",
        "en": "Happy birthday, {{ name }}!{% if bonus %} A gift from {{ branch }}: {{ bonus }}.{% endif %} "
              "Book: {{ link }}",
    }, MARKETING),
)}
# fmt: on

_PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")
EXECUTOR_FILLS = ("link",)


def placeholders_in(text: str) -> tuple[str, ...]:
    """Placeholder names a text uses, in first-use order."""
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(text)))


def default_text(template_id: str, language: str) -> str:
    """The default text; unknown languages fall back to Russian (the product's first market)."""
    texts = TEMPLATES[template_id].texts
    return texts.get(language) or texts["ru"]


def kind_of(template_id: str) -> str:
    return TEMPLATES[template_id].kind
