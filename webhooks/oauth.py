"""``GET /oauth/<tenant>/callback``: where amoCRM sends the account admin after "Allow".

The state must be ours (HMAC), for this tenant and unexpired, else 403 — that is what stops someone
from attaching their own amoCRM account to a salon by sending its admin a crafted link. The answer is
a small HTML page, because a person is looking at it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from markupsafe import escape

from bridge.amocrm.connect import ConnectError, complete_authorization, state_is_well_formed, verify_state
from bridge.amocrm.errors import AmoError, InvalidGrant, TokenEndpointError
from bridge.services import Services
from config.tenants import Tenant
from webhooks.context import current_services

bp = Blueprint("oauth", __name__)
log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · salonbridge</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#1f2d3d}}
h1{{font-size:1.4em}} .ok{{color:#2e7d32}} .bad{{color:#c62828}} .detail{{color:#5f6b7a;font-size:.9em}}</style></head>
<body><h1 class="{css}">{title}</h1><p>{message}</p>{detail}</body></html>
"""

# What the salon's amoCRM admin reads after pressing "Allow" (or "Deny"): in the salon's language, saying
# what happens next and what to do, never a command (the admin has no shell; the integrator does).
# fmt: off
PAGES: dict[str, dict[str, tuple[str, str]]] = {
    "connected": {
        "en": ("Connected", "{salon} is now connected to amoCRM. Next, your integrator finishes the set-up: "
               "three pipelines (Sales, Repeat visits, Lost clients) with their stages and fields appear in this "
               "account. From then on leads, tasks and notes appear by themselves as clients book and visit. "
               "You can close this page."),
        "ru": ("Подключено", "{salon} теперь подключён к amoCRM. Дальше ваш интегратор завершит настройку: в "
               "аккаунте появятся три воронки (Продажи, Повторные визиты, Потерянные клиенты) с их этапами и "
               "полями. После этого сделки, задачи и примечания будут появляться сами, когда клиенты "
               "записываются и приходят. Эту страницу можно закрыть."),
        "uk": ("Підключено", "{salon} тепер підключено до amoCRM. Далі ваш інтегратор завершить налаштування: в "
               "акаунті з'являться три воронки (Продажі, Повторні візити, Втрачені клієнти) з етапами й полями. "
               "Після цього угоди, задачі та примітки з'являтимуться самі, коли клієнти записуються й приходять. "
               "Цю сторінку можна закрити."),
    },
    "unknown": {
        "en": ("Unknown salon", "This address does not belong to any salon connected here. Check the link with "
               "your integrator."),
        "ru": ("Салон не найден", "Этот адрес не относится ни к одному салону. Уточните ссылку у вашего "
               "интегратора."),
        "uk": ("Салон не знайдено", "Ця адреса не належить жодному салону. Уточніть посилання у вашого "
               "інтегратора."),
    },
    "expired": {
        "en": ("Link expired", "This consent link has expired or was not made for this salon; nothing was "
               "changed. Ask your integrator for a new link and open it within an hour."),
        "ru": ("Ссылка устарела", "Срок действия ссылки истёк или она создана не для этого салона; ничего не "
               "изменилось. Попросите у интегратора новую ссылку и откройте её в течение часа."),
        "uk": ("Посилання застаріло", "Термін дії посилання минув або його створено не для цього салону; нічого "
               "не змінилося. Попросіть в інтегратора нове посилання й відкрийте його протягом години."),
    },
    "denied": {
        "en": ("Not connected", "Access was refused in amoCRM; nothing was changed. To connect later, open the "
               "consent link again and press \"Allow\"."),
        "ru": ("Не подключено", "Доступ в amoCRM не разрешён; ничего не изменилось. Чтобы подключить "
               "позже, снова откройте ссылку и нажмите «Разрешить»."),
        "uk": ("Не підключено", "Доступ в amoCRM не надано; нічого не змінилося. Щоб підключити "
               "пізніше, знову відкрийте посилання й натисніть «Дозволити»."),
    },
    "no_code": {
        "en": ("Not connected", "amoCRM sent no authorization code. Open the consent link again."),
        "ru": ("Не подключено", "amoCRM не передал код авторизации. Откройте ссылку ещё раз."),
        "uk": ("Не підключено", "amoCRM не передав код авторизації. Відкрийте посилання ще раз."),
    },
    "mismatch": {
        "en": ("Not connected", "The salon's settings do not match this amoCRM account; nothing was changed. "
               "Send this page to your integrator."),
        "ru": ("Не подключено", "Настройки салона не совпадают с этим аккаунтом amoCRM; ничего не изменилось. "
               "Перешлите эту страницу интегратору."),
        "uk": ("Не підключено", "Налаштування салону не збігаються з цим акаунтом amoCRM; нічого не змінилося. "
               "Перешліть цю сторінку інтегратору."),
    },
    "refused_code": {
        "en": ("Not connected", "amoCRM did not accept the one-time code (it is valid for 20 minutes and only "
               "once). Open the consent link again and press \"Allow\"."),
        "ru": ("Не подключено", "amoCRM не принял одноразовый код (он действует 20 минут и только один раз). "
               "Откройте ссылку ещё раз и нажмите «Разрешить»."),
        "uk": ("Не підключено", "amoCRM не прийняв одноразовий код (він діє 20 хвилин і лише один раз). "
               "Відкрийте посилання ще раз і натисніть «Дозволити»."),
    },
    "unreachable": {
        "en": ("Not connected", "amoCRM did not answer. Open the consent link again in a minute."),
        "ru": ("Не подключено", "amoCRM не ответил. Откройте ссылку ещё раз через минуту."),
        "uk": ("Не підключено", "amoCRM не відповів. Відкрийте посилання ще раз за хвилину."),
    },
    "not_stored": {
        "en": ("Not connected", "The connection could not be saved on our side; your integrator sees why in "
               "the server log. Nothing needs doing in amoCRM."),
        "ru": ("Не подключено", "Подключение не удалось сохранить на нашей стороне; причина — в журнале "
               "сервера у интегратора. В amoCRM ничего делать не нужно."),
        "uk": ("Не підключено", "Підключення не вдалося зберегти на нашому боці; причина — у журналі сервера в "
               "інтегратора. В amoCRM нічого робити не потрібно."),
    },
}
DETAIL = {"en": "For your integrator", "ru": "Для интегратора", "uk": "Для інтегратора"}
# fmt: on


def _language(tenant: Tenant | None) -> str:
    if tenant is not None and tenant.language in DETAIL:
        return tenant.language
    return request.accept_languages.best_match(DETAIL, default="en") or "en"


def _page(status: int, page: str, language: str, detail: str = "", **values: str) -> Response:
    title, message = PAGES[page][language]
    extra = f'<p class="detail">{escape(DETAIL[language])}: {escape(detail)}</p>' if detail else ""
    body = _PAGE.format(lang=language, title=escape(title), message=escape(message.format(**values)),
                        css="ok" if status < 400 else "bad", detail=extra)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the URL carried a one-time code
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/oauth/<tenant>/callback")
def callback(tenant: str) -> Response:
    services: Services = current_services()
    found = services.tenants.get(tenant)
    language = _language(found)
    if found is None:
        return _page(404, "unknown", language)
    state = request.args.get("state", "")
    if state and not state_is_well_formed(state):  # garbage, not an expired or foreign link: 400
        return _page(400, "expired", language)
    if not verify_state(services.settings.secret_key, tenant, state):
        log.warning("OAuth callback for %s with a bad or expired state", tenant)
        return _page(403, "expired", language)
    if request.args.get("error"):
        log.info("amoCRM access refused for %s", tenant)
        return _page(400, "denied", language)
    code = request.args.get("code", "")
    if not code:
        return _page(400, "no_code", language)
    try:
        complete_authorization(found, services, code, request.args.get("referer"))
    except ConnectError as exc:
        log.error("OAuth callback for %s: %s", tenant, exc)
        return _page(400, "mismatch", language, str(exc))
    except InvalidGrant as exc:
        log.warning("OAuth callback for %s: amoCRM refused the code (%s)", tenant, exc.hint)
        return _page(400, "refused_code", language, exc.hint)
    except TokenEndpointError:
        return _page(502, "unreachable", language)
    except AmoError as exc:  # e.g. the token key is unusable
        log.error("OAuth callback for %s failed: %s", tenant, exc)
        return _page(500, "not_stored", language)
    log.info("%s connected to amoCRM; next: salonbridge setup %s", tenant, tenant)
    return _page(200, "connected", language, salon=found.name)
