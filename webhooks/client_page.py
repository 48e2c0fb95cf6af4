"""``/c/<token>``: the client's own page, reached by the signed link in every message (DESIGN §6 item 12).

The token is the only credential: a bad or foreign one gets a bare 404, an expired one a 410 that says
to ask the salon for a new link. Forms carry an HMAC of (token, action) as a CSRF field. Answers are
HTML (a person reads them), never cached or framed, and never leak the link through a Referer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from bridge.booking.phones import mask_email, mask_phone
from bridge.booking.widget import book_again_url
from bridge.messaging.links import ClientLink, LinkError, LinkExpired, verify
from bridge.services import Services
from bridge.store import client_page as store
from bridge.store.models import Visit
from config.tenants import Tenant
from webhooks.context import current_services

bp = Blueprint("client_page", __name__, template_folder="templates")
log = logging.getLogger(__name__)

PURPOSE = "client-page"
MAX_TEXT = 2000
ACTIONS = ("feedback", "opt-out", "opt-in")
_CSRF_CONTEXT = b"salonbridge client page csrf v1"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # PostgreSQL text refuses NUL; the rest is noise
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LANGUAGES = ["uk", "ru", "en"]
WEEKDAYS = {
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
    "uk": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Нд"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
# fmt: off
TEXTS: dict[str, dict[str, str]] = {
    "uk": {
        "title": "Ваші візити", "hello": "Вітаємо, {name}!", "hello_anon": "Вітаємо!",
        "intro": "Тут ваші записи та візити до {salon}.", "contacts": "Ваші контакти",
        "upcoming": "Майбутні записи", "no_upcoming": "Поки немає майбутніх записів.",
        "past": "Останні візити", "no_past": "Завершених візитів ще немає.",
        "master": "Майстер", "branch": "Філія", "book_again": "Записатися знову",
        "review": "Залишити відгук або побажання", "review_hint": "Його прочитає адміністратор салону.",
        "placeholder": "Що вам сподобалося, що покращити?", "send": "Надіслати",
        "thanks": "Дякуємо! Ваш відгук отримано.",
        "error_empty": "Напишіть хоча б кілька слів.", "error_too_long": "Не більше 2000 символів.",
        "messages": "Повідомлення",
        "subscribed": "Ми надсилаємо вам нагадування та пропозиції.",
        "unsubscribed": "Ви не отримуєте пропозицій і запрошень. Повідомлення про ваші записи надходитимуть і далі.",
        "opt_out": "Не надсилати мені повідомлень", "opt_in": "Відновити повідомлення",
        "opted_out_done": "Готово: ми більше не надсилатимемо вам пропозицій.",
        "opted_in_done": "Готово: повідомлення відновлено.",
        "not_found": "Сторінку не знайдено", "not_found_text": "Перевірте посилання.",
        "expired": "Посилання застаріло",
        "expired_text": "Попросіть у салону {salon} нове посилання.",
        "expired_anon": "Попросіть у салону нове посилання.",
        "forbidden": "Дію не виконано", "forbidden_text": "Відкрийте сторінку за посиланням ще раз і повторіть.",
        "footer": "Це ваша особиста сторінка. Не пересилайте посилання іншим.",
    },
    "ru": {
        "title": "Ваши визиты", "hello": "Здравствуйте, {name}!", "hello_anon": "Здравствуйте!",
        "intro": "Здесь ваши записи и визиты в {salon}.", "contacts": "Ваши контакты",
        "upcoming": "Предстоящие записи", "no_upcoming": "Пока нет предстоящих записей.",
        "past": "Последние визиты", "no_past": "Завершённых визитов ещё нет.",
        "master": "Мастер", "branch": "Филиал", "book_again": "Записаться снова",
        "review": "Оставить отзыв или пожелание", "review_hint": "Его прочитает администратор салона.",
        "placeholder": "Что понравилось, что улучшить?", "send": "Отправить",
        "thanks": "Спасибо! Ваш отзыв получен.",
        "error_empty": "Напишите хотя бы несколько слов.", "error_too_long": "Не больше 2000 символов.",
        "messages": "Сообщения",
        "subscribed": "Мы присылаем вам напоминания и предложения.",
        "unsubscribed": "Вы не получаете предложений и приглашений. Сообщения о ваших записях будут приходить.",
        "opt_out": "Не присылать мне сообщения", "opt_in": "Возобновить сообщения",
        "opted_out_done": "Готово: мы больше не будем присылать вам предложения.",
        "opted_in_done": "Готово: сообщения возобновлены.",
        "not_found": "Страница не найдена", "not_found_text": "Проверьте ссылку.",
        "expired": "Ссылка устарела",
        "expired_text": "Попросите в салоне {salon} новую ссылку.", "expired_anon": "Попросите в салоне новую ссылку.",
        "forbidden": "Действие не выполнено", "forbidden_text": "Откройте страницу по ссылке ещё раз и повторите.",
        "footer": "Это ваша личная страница. Не пересылайте ссылку другим.",
    },
    "en": {
        "title": "Your visits", "hello": "Hello, {name}!", "hello_anon": "Hello!",
        "intro": "Your bookings and visits at {salon}.", "contacts": "Your contacts",
        "upcoming": "Upcoming bookings", "no_upcoming": "No upcoming bookings yet.",
        "past": "Recent visits", "no_past": "No completed visits yet.",
        "master": "Master", "branch": "Branch", "book_again": "Book again",
        "review": "Leave a review or a wish", "review_hint": "The salon's administrator will read it.",
        "placeholder": "What did you like, what could be better?", "send": "Send",
        "thanks": "Thank you! We have received your review.",
        "error_empty": "Please write a few words.", "error_too_long": "At most 2000 characters, please.",
        "messages": "Messages",
        "subscribed": "We send you reminders and offers.",
        "unsubscribed": "You get no offers or invitations. Messages about your bookings still come.",
        "opt_out": "Stop sending me messages", "opt_in": "Resume messages",
        "opted_out_done": "Done: we will not send you offers any more.",
        "opted_in_done": "Done: messages are back on.",
        "not_found": "Page not found", "not_found_text": "Please check the link.",
        "expired": "This link has expired",
        "expired_text": "Please ask {salon} for a new link.", "expired_anon": "Please ask the salon for a new link.",
        "forbidden": "Not done", "forbidden_text": "Open the page from your link again and retry.",
        "footer": "This is your personal page. Please do not forward the link.",
    },
}
# fmt: on


class Refused(Exception):
    """Stop the request with this status and a short page (no detail for 404/403)."""

    def __init__(self, status: int, language: str, message: str, salon: str | None = None):
        super().__init__(message)
        self.status, self.language, self.message, self.salon = status, language, message, salon


# -- tokens --------------------------------------------------------------------------------------------------


def _visitor_language() -> str:
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"


def open_link(token: str) -> tuple[ClientLink, Tenant]:
    """The verified link and its tenant, or Refused(404 | 410)."""
    svc = current_services()
    try:
        link = verify(svc.settings.secret_key, token, purpose=PURPOSE)
    except LinkExpired:
        tenant = _expired_tenant(svc, token)
        lang = _language(tenant) if tenant else _visitor_language()
        raise Refused(410, lang, "expired", tenant.name if tenant else None) from None
    except LinkError:
        raise Refused(404, _visitor_language(), "not_found") from None
    tenant = svc.tenants.get(link.tenant)
    if tenant is None or not (link.client_id.isascii() and link.client_id.isdigit()):
        raise Refused(404, _visitor_language(), "not_found")
    return link, tenant


def _expired_tenant(svc: Services, token: str) -> Tenant | None:
    """The salon of a link that was ours but expired (already verified: only its age failed)."""
    try:
        return svc.tenants.get(verify(svc.settings.secret_key, token, purpose=PURPOSE, now=_EPOCH).tenant)
    except LinkError:
        return None


def _language(tenant: Tenant) -> str:
    return tenant.language if tenant.language in TEXTS else "ru"


def csrf_token(secret: str, token: str, action: str) -> str:
    """HMAC of (token, action) under a key derived from the app secret for this use only."""
    key = hmac.new(secret.encode(), _CSRF_CONTEXT, hashlib.sha256).digest()
    return hmac.new(key, f"{action}\x00{token}".encode(), hashlib.sha256).hexdigest()


def _check_csrf(token: str, action: str, language: str) -> None:
    expected = csrf_token(current_services().settings.secret_key, token, action)
    given = request.form.get("csrf", "")
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise Refused(403, language, "forbidden")


# -- the page ------------------------------------------------------------------------------------------------


def _when(at: datetime, tenant: Tenant, language: str, with_time: bool) -> str:
    local = at.astimezone(tenant.timezone)
    day = local.strftime("%Y-%m-%d" if language == "en" else "%d.%m.%Y")
    text = f"{WEEKDAYS[language][local.weekday()]}, {day}"
    return f"{text} · {local:%H:%M}" if with_time else text


def _visit(v: Visit, tenant: Tenant, language: str, with_time: bool) -> dict[str, Any]:
    return {
        "when": _when(v.start_at, tenant, language, with_time),
        "services": ", ".join(s.title for s in v.services),
        "master": v.staff_name,
        "branch": tenant.branch_name(v.branch) or v.branch,
    }


def _past_visit(v: Visit, tenant: Tenant, language: str) -> dict[str, Any]:
    """A completed visit, with the salon's booking widget for the same service and master ("book again")."""
    first = v.services[0].external_id if v.services else None
    url = book_again_url(tenant.clients.booking_url, branch=v.branch, service_id=first, staff_id=v.staff_id)
    return {**_visit(v, tenant, language, False), "book_again": url}


def render_page(token: str, link: ClientLink, tenant: Tenant, status: int = 200, **extra: Any) -> Response:
    """The full page for the link's client; 404 if the client is gone or belongs to another salon."""
    language, now = _language(tenant), datetime.now(UTC)
    with current_services().store.session() as s:
        data = store.load(s, tenant.slug, int(link.client_id), now)
        if data is None:
            raise Refused(404, language, "not_found")
        client = data.client
        page = {
            "first_name": (client.name or "").split()[0] if (client.name or "").strip() else "",
            "phone": mask_phone(client.phone),
            "email": mask_email(client.email),
            "opted_out": client.opted_out,
            "upcoming": [_visit(v, tenant, language, True) for v in data.upcoming],
            "past": [_past_visit(v, tenant, language) for v in data.past],
        }
    secret = current_services().settings.secret_key
    body = render_template(
        "client_page.html", t=TEXTS[language], lang=language, salon=tenant.name, token=token, max_text=MAX_TEXT,
        csrf={a: csrf_token(secret, token, a) for a in ACTIONS}, nonce=g.csp_nonce,
        done=request.args.get("done", ""), **page, **extra,
    )
    return Response(body, status=status, mimetype="text/html")


@bp.before_request
def _nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


@bp.after_request
def _headers(response: Response) -> Response:
    """The URL is a credential: never cached, never sent on as a Referer, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{g.get('csp_nonce', '')}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    body = render_template("client_page.html", t=TEXTS[exc.language], lang=exc.language, refusal=exc.message,
                           salon=exc.salon, nonce=g.get("csp_nonce", ""))
    return Response(body, status=exc.status, mimetype="text/html")


@bp.get("/c/<token>")
def page(token: str) -> Response:
    link, tenant = open_link(token)
    return render_page(token, link, tenant)


# -- the forms -----------------------------------------------------------------------------------------------


def _back(token: str, done: str) -> Response:
    return redirect(url_for("client_page.page", token=token, done=done), code=303)


def _enqueue_sync(tenant: str) -> None:
    try:
        current_services().queue.enqueue_crm_sync(tenant)
    except RedisError as exc:  # the note is stored; the clock queues a sync for any pending action
        log.warning("client page: CRM sync for %s not queued (%s); the clock will", tenant, exc)


def clean_text(raw: str) -> str:
    """Browsers send CRLF; count what the admin will read."""
    return _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()


@bp.post("/c/<token>/feedback")
def feedback(token: str) -> Response:
    link, tenant = open_link(token)
    language = _language(tenant)
    _check_csrf(token, "feedback", language)
    text = clean_text(request.form.get("text", ""))
    if not text or len(text) > MAX_TEXT:
        error = "error_empty" if not text else "error_too_long"
        return render_page(token, link, tenant, 422, error=error, text=text)
    try:
        with current_services().store.session() as s:
            fresh = store.record_feedback(s, tenant.slug, int(link.client_id), token, text, language,
                                          datetime.now(UTC))
    except IntegrityError:  # the same text submitted twice at once: the other request stored it
        fresh = False
    if fresh:
        log.info("client page: feedback from client %s of %s", link.client_id, tenant.slug)
        _enqueue_sync(tenant.slug)
    return _back(token, "feedback")


def _set_opted_out(token: str, opted_out: bool) -> Response:
    link, tenant = open_link(token)
    action = "opt-out" if opted_out else "opt-in"
    _check_csrf(token, action, _language(tenant))
    with current_services().store.session() as s:
        if store.find_client(s, tenant.slug, int(link.client_id)) is None:
            raise Refused(404, _language(tenant), "not_found")
        noted = store.set_opted_out(s, tenant.slug, int(link.client_id), opted_out, _language(tenant),
                                    datetime.now(UTC))
    if noted:
        log.info("client page: client %s of %s %s", link.client_id, tenant.slug, action)
        _enqueue_sync(tenant.slug)
    return _back(token, action)


@bp.post("/c/<token>/opt-out")
def opt_out(token: str) -> Response:
    return _set_opted_out(token, True)


@bp.post("/c/<token>/opt-in")
def opt_in(token: str) -> Response:
    return _set_opted_out(token, False)
