"""The dashboard over real HTTP: sign-in, roles, CSRF, the sign-in rate limit, and what each page shows."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bridge.amocrm.ratelimit import RedisRateLimiter, pause
from bridge.queue import JobQueue, connect
from bridge.store import users
from bridge.store.models import DashboardUser, MessageRow
from tests.fakes.http import serve
from tests.integration.dashboard_data import PASSWORD, dash  # noqa: F401 (fixture)
from webhooks.app import create_app
from webhooks.dashboard.auth import MAX_FAILURES
from webhooks.dashboard.campaigns import campaigns
from webhooks.dashboard.i18n import TEXTS

PAGES = ["/t/{slug}/", "/t/{slug}/playbook", "/t/{slug}/reconnect", "/t/{slug}/prepayments",
         "/t/{slug}/prepayments.csv", "/t/{slug}/prepayments.xlsx", "/t/{slug}/settings",
         "/t/{slug}/clients/1/timeline", "/t/{slug}/clients", "/t/{slug}/clients/1", "/t/{slug}/clients/count",
         "/t/{slug}/clients/segment.csv", "/t/{slug}/clients/segment.xlsx", "/t/{slug}/reports",
         "/t/{slug}/reports/rating", "/t/{slug}/reports/lost.csv", "/t/{slug}/reports/birthdays.xlsx"]
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(dash) -> Iterator[str]:  # noqa: F811
    with serve(create_app(services=dash)) as url:
        yield url


def token_of(html: str) -> str:
    return _TOKEN.search(html).group(1)


def sign_in(base: str, username: str, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    form = http.get(f"{base}/login", timeout=5)
    answer = http.post(f"{base}/login", data={"username": username, "password": password,
                                              "csrf_token": token_of(form.text)}, timeout=10)
    return http, answer


@pytest.mark.security
def test_every_page_sends_a_signed_out_visitor_to_sign_in(web):
    for page in ["/", *PAGES]:
        url = web + page.format(slug="salon")
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, page
        assert answer.headers["Location"].startswith("/login?next="), page
    retry = requests.post(f"{web}/t/salon/jobs/evt-1/retry", allow_redirects=False, timeout=5)
    assert retry.status_code in (302, 400)  # no session: no CSRF token either, refused before anything runs


@pytest.mark.security
def test_a_manager_sees_only_their_salon_and_another_salons_pages_are_404(web, dash):  # noqa: F811
    http, answer = sign_in(web, "ivan")  # manager of "other"
    assert answer.url == f"{web}/t/other/"
    for page in PAGES:
        mine = http.get(web + page.format(slug="other"), timeout=10)
        theirs = http.get(web + page.format(slug="salon"), timeout=10)
        nowhere = http.get(web + page.format(slug="nosuch"), timeout=10)
        assert theirs.status_code == nowhere.status_code == 404, page
        assert "Test Salon" not in theirs.text
        assert mine.status_code in (200, 404), page  # the timeline of client 1 belongs to salon: 404 for other
    assert http.get(f"{web}/t/other/clients/1/timeline", timeout=5).status_code == 404
    assert http.get(f"{web}/t/other/clients/1", timeout=5).status_code == 404  # salon's client, not other's
    assert http.get(f"{web}/api/tenants/salon/clients", timeout=5).status_code == 404  # a session opens no API
    home = http.get(f"{web}/", allow_redirects=False, timeout=5)
    assert home.headers["Location"] == "/t/other/"
    retry = http.post(f"{web}/t/salon/jobs/crm-other/retry",
                      data={"csrf_token": token_of(http.get(f"{web}/t/other/", timeout=5).text)}, timeout=5)
    assert retry.status_code == 404


def test_an_agency_admin_sees_every_salon(web):
    http, answer = sign_in(web, "agency")
    assert answer.url == f"{web}/"
    assert "Test Salon" in answer.text and "Other Salon" in answer.text
    for slug in ("salon", "other"):
        assert http.get(f"{web}/t/{slug}/settings", timeout=10).status_code == 200


@pytest.mark.security
def test_forms_without_the_csrf_token_are_refused(web, dash):  # noqa: F811
    plain = requests.post(f"{web}/login", data={"username": "agency", "password": PASSWORD}, timeout=10)
    assert plain.status_code == 400
    assert "Set-Cookie" not in plain.headers or "uid" not in plain.headers.get("Set-Cookie", "")
    http, _ = sign_in(web, "agency")
    for path in ("/t/salon/jobs/crm-other/retry", "/language", "/logout"):
        assert http.post(web + path, data={"language": "ru"}, timeout=5).status_code == 400, path
        assert http.post(web + path, data={"csrf_token": "forged", "language": "ru"}, timeout=5).status_code == 400
    assert http.get(f"{web}/t/salon/", timeout=5).status_code == 200  # still signed in: logout was refused too
    assert dash.queue.rq.failed_job_registry.count == 2  # nothing was retried


@pytest.mark.security
def test_the_sign_in_rate_limit_holds_per_address_and_name(web):
    for _ in range(MAX_FAILURES):
        _, answer = sign_in(web, "olena", "wrong password!")
        assert answer.status_code == 401
    _, answer = sign_in(web, "olena")  # the right password no longer helps
    assert answer.status_code == 429
    assert TEXTS["uk"]["login_limited"] in answer.text or TEXTS["en"]["login_limited"] in answer.text
    _, other = sign_in(web, "agency")  # another name from the same address is not locked out
    assert other.status_code == 200 and other.url == f"{web}/"


@pytest.mark.security
def test_signing_out_ends_the_session_and_cookies_are_http_only(web):
    http, answer = sign_in(web, "olena")
    cookie = answer.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    overview = http.get(f"{web}/t/salon/", timeout=5)
    assert http.post(f"{web}/logout", data={"csrf_token": token_of(overview.text)}, timeout=5).url == f"{web}/login"
    assert http.get(f"{web}/t/salon/", allow_redirects=False, timeout=5).status_code == 302


@pytest.mark.security
def test_the_session_cookie_is_secure_when_the_install_is_served_over_https(dash):  # noqa: F811
    https = dataclasses.replace(dash.settings, public_url="https://salons.example.com")
    with serve(create_app(settings=https, services=dash)) as web:
        page = requests.get(f"{web}/login", timeout=5)
    assert "Secure" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]


def test_with_redis_down_sign_in_is_refused_and_the_overview_says_what_is_missing(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")  # signed in while Redis was up
    down = dataclasses.replace(dash, queue=JobQueue(connect("redis://127.0.0.1:9/0"), dash.queue.name))
    with serve(create_app(services=down)) as broken:
        fresh = requests.Session()
        form = fresh.get(f"{broken}/login", timeout=5)
        refused = fresh.post(f"{broken}/login", data={"username": "olena", "password": PASSWORD,
                                                      "csrf_token": token_of(form.text)}, timeout=10)
        assert refused.status_code == 503  # not unlimited: no counting, no sign-in
        overview = http.get(f"{broken}/t/salon/", timeout=10)
    assert overview.status_code == 200 and TEXTS["uk"]["redis_down"] in overview.text


@pytest.mark.security
def test_a_new_password_signs_out_the_sessions_signed_in_before(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    assert http.get(f"{web}/t/salon/", allow_redirects=False, timeout=5).status_code == 200
    users.set_password(dash.store, "olena", "a brand new passphrase")
    assert http.get(f"{web}/t/salon/", allow_redirects=False, timeout=5).status_code == 302


def test_the_overview_shows_todays_events_backlog_failed_jobs_and_warnings_and_retries_a_job(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    page = http.get(f"{web}/t/salon/", timeout=10).text
    assert re.search(r'id="events-today".*?<div class="big">9</div>', page, re.S)  # salon's 9 events today
    assert "з помилкою 2" in page  # invalid + retry, in the salon's language (uk)
    assert re.search(r'id="backlog".*?<div class="big">1</div>', page, re.S)
    assert "RuntimeError: the store was unreachable" in page and "crm-other" not in page  # only salon's job
    assert "<td>amocrm</td>" in page and "<td>yclients</td>" in page and "<td>liqpay</td>" in page
    assert "not connected" in page  # a warning from the same checks `salonbridge check --online` runs
    assert 'id="amocrm-paused"' not in page


def test_the_overview_shows_the_amocrm_budget_drawn_and_a_block(web, dash):  # noqa: F811
    redis = dash.queue.connection
    limiter = RedisRateLimiter.for_account(redis, dash.tenants["salon"].amocrm.base_url, max_wait_s=5)
    for _ in range(3):
        limiter.acquire()  # what the amoCRM client does before each request, from any process
    pause(redis, "salon", datetime.now(UTC) + timedelta(hours=1), "403 from amoCRM")
    http, _ = sign_in(web, "olena")
    page = http.get(f"{web}/t/salon/", timeout=10).text
    used = re.search(r'id="amocrm-rate">навантаження: ([\d.]+)/с з 7/с \((\d+) %\), (\d+) запитів', page)
    assert used and int(used.group(3)) >= 3 and float(used.group(1)) > 0
    assert TEXTS["uk"]["amocrm_paused"].split(":")[0] in re.search(r'id="amocrm-paused">([^<]+)<', page).group(1)
    job_id = re.search(r'<code>(evt-\d+)</code>', page).group(1)
    done = http.post(f"{web}/t/salon/jobs/{job_id}/retry", data={"csrf_token": token_of(page)}, timeout=10)
    assert TEXTS["uk"]["retried"] in done.text
    assert dash.queue.rq.failed_job_registry.count == 1 and job_id in dash.queue.rq.job_ids


def test_playbook_reconnect_prepayments_and_settings_show_the_salons_figures(web, dash):  # noqa: F811
    http, _ = sign_in(web, "olena")
    playbook = http.get(f"{web}/t/salon/playbook", timeout=10).text
    assert "Повторні візити" in playbook and "Час нагадати" in playbook
    assert "скасована записом" in playbook and "відновлена" in playbook and "reminder" in playbook
    found = http.get(f"{web}/t/salon/playbook", params={"q": "Ольга"}, timeout=10).text
    timeline_url = re.search(r'href="(/t/salon/clients/\d+/timeline)"', found).group(1)
    timeline = http.get(web + timeline_url, timeout=10).text
    assert "/contacts/detail/777001" in timeline and "/leads/detail/888001" in timeline and "CreateLead" in timeline
    assert "→ Перший запис" in timeline  # the stage as amoCRM names it

    reconnect = http.get(f"{web}/t/salon/reconnect", timeout=60).text
    assert "Манікюр" in reconnect
    if campaigns() is None:  # until Reconnect campaigns exist, an empty slot where "Send" goes
        assert 'data-slot="reconnect-send"' in reconnect and "/reconnect/send" not in reconnect
    http.post(f"{web}/language", data={"language": "en", "csrf_token": token_of(reconnect)}, timeout=5)
    assert "<td>Manicure</td>" in http.get(f"{web}/t/salon/reconnect", timeout=60).text  # the reader's language

    report = http.get(f"{web}/t/salon/prepayments", timeout=10).text
    colours = {status: colour for colour, status in re.findall(r'class="pill (\w+)" data-status="(\w+)"', report)}
    assert colours == {"pending": "grey", "paid": "green", "expired": "red",
                                                 "cancelled": "red"}
    only_paid = http.get(f"{web}/t/salon/prepayments", params={"status": "paid"}, timeout=10).text
    assert only_paid.count("data-status=") == 1
    download = http.get(f"{web}/t/salon/prepayments.csv", params={"status": "expired"}, timeout=10)
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert download.headers["Content-Type"].startswith("text/csv")
    assert [(r["order_ref"], r["status"], r["branch"]) for r in rows] == [("bk-902-1", "expired", "Центр")]

    settings = http.get(f"{web}/t/salon/settings", timeout=10).text
    assert "$SALON_TEST_WEBHOOK_TOKEN" in settings and "t0ken-for-tests" not in settings  # masked for a manager
    assert "/hooks/salon/yclients/•••" in settings and "salonbridge setup salon" in settings


def test_send_on_a_reconnect_category_asks_first_then_contacts_its_clients(web, dash):  # noqa: F811
    pytest.importorskip("bridge.campaigns", reason="Reconnect campaigns are not in this install yet")
    http, _ = sign_in(web, "olena")
    page = http.get(f"{web}/t/salon/reconnect", timeout=60).text
    assert 'id="send-manicure"' in page and 'id="send-all"' in page
    asked = http.post(f"{web}/t/salon/reconnect/send", data={"category": "manicure", "csrf_token": token_of(page)},
                      timeout=60)
    assert asked.status_code == 200
    assert TEXTS["uk"]["confirm_send"].format(n=1, category="Манікюр", channel="SMS та email") in asked.text
    assert _messages(dash) == 0  # asking sent nothing
    switched = http.post(f"{web}/t/salon/reconnect/send", data={
        "category": "manicure", "channel": "sms", "confirm": "yes", "shown_channel": "both", "shown_count": "1",
        "csrf_token": token_of(asked.text)}, timeout=60)  # another channel than the one shown: asked again
    assert TEXTS["uk"]["confirm_send"].format(n=1, category="Манікюр", channel="SMS") in switched.text
    assert _messages(dash) == 0
    done = http.post(f"{web}/t/salon/reconnect/send", data={
        "category": "manicure", "channel": "sms", "confirm": "yes", "shown_channel": "sms", "shown_count": "1",
        "csrf_token": token_of(switched.text)}, timeout=60)
    assert TEXTS["uk"]["campaign_sent"].format(n=1, m=1) in done.text
    assert _messages(dash) == 1
    again = http.post(f"{web}/t/salon/reconnect/send", data={
        "category": "manicure", "confirm": "yes", "shown_channel": "both", "shown_count": "1",
        "csrf_token": token_of(done.text)}, timeout=60)
    assert TEXTS["uk"]["nobody_to_contact"].format(category="Манікюр") in again.text and _messages(dash) == 1
    forged = http.post(f"{web}/t/salon/reconnect/send", data={"all": "1", "confirm": "yes"}, timeout=10)
    assert forged.status_code == 400 and _messages(dash) == 1


def _messages(svc) -> int:
    with svc.store.session() as s:
        return s.query(MessageRow).filter(MessageRow.key.notlike("m-%")).count()


def test_the_language_is_the_users_choice_else_the_salons(web, dash):  # noqa: F811
    http, answer = sign_in(web, "olena")  # salon's language: uk
    assert TEXTS["uk"]["overview_title"] in answer.text
    chosen = http.post(f"{web}/language", data={"language": "ru", "next": "/t/salon/",
                                                "csrf_token": token_of(answer.text)}, timeout=5)
    assert TEXTS["ru"]["overview_title"] in chosen.text and TEXTS["ru"]["events_today"] in chosen.text
    with dash.store.session() as s:
        assert s.query(DashboardUser).filter_by(username="olena").one().language == "ru"
    again, answer = sign_in(web, "olena")  # kept for the next sign-in
    assert TEXTS["ru"]["overview_title"] in answer.text
    _, english = sign_in(web, "ivan")
    assert TEXTS["en"]["events_today"] in english.text


def test_every_language_has_every_text():
    keys = set(TEXTS["en"])
    assert all(set(texts) == keys for texts in TEXTS.values())
