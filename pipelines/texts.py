"""Texts the robot writes for salon staff in amoCRM: task texts, task results, notes, lead names.

Plain ``str.format`` strings (staff-facing, not tenant-editable, so no template engine needed).
Missing values are shown as "—" so a task is never blank where the store lacked a master or service.
Names (client, master, branch, service) only ever stand where Russian and Ukrainian keep them in the
nominative — first, after a colon or as a label — because we cannot decline "Наталія" or "Поділ"
correctly; verbs about the client avoid gendered past forms ("неявка", not "не пришёл").
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# fmt: off
TEXTS: dict[str, dict[str, str]] = {
    "periodic_task": {
        "ru": "{client}: пригласить на повторный визит. Прошлый визит {date}: {service}, мастер: {master}; "
              "периодичность {days} дн.",
        "uk": "{client}: запросити на повторний візит. Попередній візит {date}: {service}, майстер: {master}; "
              "періодичність {days} дн.",
        "en": "Invite {client} for a repeat visit: {service} with {master} on {date}, repeats every {days} days.",
    },
    "periodic_cancelled": {
        "ru": "Отменено автоматически: у клиента уже есть запись на {date} ({service}, запись {booking}).",
        "uk": "Скасовано автоматично: клієнт уже має запис на {date} ({service}, запис {booking}).",
        "en": "Cancelled automatically: the client already booked {service} for {date} (booking {booking}).",
    },
    "periodic_superseded": {
        "ru": "Закрыто автоматически: клиент пришёл снова {date} (визит {booking}).",
        "uk": "Закрито автоматично: клієнт прийшов знову {date} (візит {booking}).",
        "en": "Closed automatically: the client came again on {date} (visit {booking}).",
    },
    "periodic_restored": {
        "ru": "Задача восстановлена: запись {booking} отменена, другой записи в категории «{category}» нет.",
        "uk": "Задачу відновлено: запис {booking} скасовано, іншого запису в категорії «{category}» немає.",
        "en": "Task restored: booking {booking} was cancelled, the client has no {category} booking.",
    },
    "periodic_pre_booked": {
        "ru": "Задача не создана: у клиента уже есть запись в категории «{category}» (запись {booking}).",
        "uk": "Задачу не створено: клієнт уже має запис у категорії «{category}» (запис {booking}).",
        "en": "No task created: the client already has a {category} booking ({booking}).",
    },
    "sales_call_no_show": {
        "ru": "{client}: неявка на первый визит {date} ({service}). Позвонить и перезаписать.",
        "uk": "{client}: неявка на перший візит {date} ({service}). Зателефонувати й перезаписати.",
        "en": "Call {client}: missed the first visit on {date} ({service}). Rebook.",
    },
    "sales_call_cancelled": {
        "ru": "{client}: первая запись на {date} ({service}) отменена. Позвонить и предложить другое время.",
        "uk": "{client}: перший запис на {date} ({service}) скасовано. Зателефонувати й запропонувати інший "
              "час.",
        "en": "Call {client}: cancelled the first booking for {date} ({service}). Offer another time.",
    },
    "reconnect_note": {
        "ru": "Reconnect ({category}): последний визит {date}, ожидался {expected}, опоздание {days} дн. "
              "Сообщение: {channels}. Повтор {follow_up}, если клиент не запишется.",
        "uk": "Reconnect ({category}): останній візит {date}, очікувався {expected}, запізнення {days} дн. "
              "Повідомлення: {channels}. Повтор {follow_up}, якщо клієнт не запишеться.",
        "en": "Reconnect ({category}): last visit {date}, expected {expected}, {days} days late. "
              "Message: {channels}. Follow-up {follow_up} unless the client rebooks.",
    },
    "reconnect_follow_up_note": {
        "ru": "Reconnect ({category}): клиент не записался, отправлено повторное сообщение ({channels}).",
        "uk": "Reconnect ({category}): клієнт не записався, надіслано повторне повідомлення ({channels}).",
        "en": "Reconnect ({category}): the client has not rebooked; follow-up sent ({channels}).",
    },
    "reconnect_call": {
        "ru": "{client}: позвонить и пригласить записаться. Reconnect — {category}, последний визит {date}, "
              "опоздание {days} дн.",
        "uk": "{client}: зателефонувати й запросити записатися. Reconnect — {category}, останній візит {date}, "
              "запізнення {days} дн.",
        "en": "Call {client}: Reconnect, {category}, last visit {date}, {days} days late. Invite them to book.",
    },
    "lost_call": {
        "ru": "{client}: вернуть клиента. Последний визит {date}, любимый мастер: {master}, филиал: {branch}. "
              "Позвонить и сделать специальное предложение.",
        "uk": "{client}: повернути клієнта. Останній візит {date}, улюблений майстер: {master}, філія: {branch}. "
              "Зателефонувати й зробити спеціальну пропозицію.",
        "en": "Call {client} to win them back: last visit {date}, favourite master {master}, "
              "branch {branch}. Make a special offer.",
    },
    "prepayment_note": {
        "ru": "Предоплата {amount} по записи {booking} ({order}): {status}.",
        "uk": "Передоплата {amount} за записом {booking} ({order}): {status}.",
        "en": "Prepayment {amount} for booking {booking} ({order}): {status}.",
    },
    "prepayment_alert_task": {
        "ru": "Проверьте предоплату по записи {booking} ({order}): {alert}",
        "uk": "Перевірте передоплату за записом {booking} ({order}): {alert}",
        "en": "Check the prepayment for booking {booking} ({order}): {alert}",
    },
    "prepayment_refund_task": {
        "ru": "Клиент отменил оплаченную запись {booking}: верните предоплату {amount} ({order}).",
        "uk": "Клієнт скасував оплачений запис {booking}: поверніть передоплату {amount} ({order}).",
        "en": "The client cancelled paid booking {booking}: refund the prepayment of {amount} ({order}).",
    },
    "prepayment_cancel_visit_task": {
        "ru": "Предоплата по записи {booking} не поступила до {deadline}: запись отменяется ({order}). "
              "Освободите время в журнале, если система записи не сделала этого сама.",
        "uk": "Передоплата за записом {booking} не надійшла до {deadline}: запис скасовується ({order}). "
              "Звільніть час у журналі, якщо система запису не зробила цього сама.",
        "en": "No prepayment for booking {booking} by {deadline}: the booking is cancelled ({order}). "
              "Free the slot in the booking system if it did not do so itself.",
    },
    "prepayment_booking_paid": {
        "ru": "Предоплата {amount} получена, чек {receipt} ({order}).",
        "uk": "Передоплату {amount} отримано, чек {receipt} ({order}).",
        "en": "Prepayment of {amount} received, receipt {receipt} ({order}).",
    },
    "prepayment_booking_expired": {
        "ru": "Предоплата {amount} не поступила до {deadline}: запись отменена ({order}).",
        "uk": "Передоплата {amount} не надійшла до {deadline}: запис скасовано ({order}).",
        "en": "Prepayment of {amount} not received by {deadline}: booking cancelled ({order}).",
    },
    "lead_name": {
        "ru": "{client}: {pipeline}",
        "uk": "{client}: {pipeline}",
        "en": "{client}: {pipeline}",
    },
}
# fmt: on

_DATE_FORMAT = {"ru": "%d.%m.%Y", "uk": "%d.%m.%Y", "en": "%Y-%m-%d"}


def text(name: str, language: str, **values: object) -> str:
    """The staff text ``name`` in ``language`` (Russian when unknown), "—" for missing values."""
    variants = TEXTS[name]
    shown = {k: ("—" if v is None or v == "" else v) for k, v in values.items()}
    return (variants.get(language) or variants["ru"]).format(**shown)


def local_date(at: datetime, tz: ZoneInfo, language: str) -> str:
    return at.astimezone(tz).strftime(_DATE_FORMAT.get(language, "%d.%m.%Y"))


def local_time(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")
