"""The client's own page over real HTTP: what it shows, refusals (404/410/403), reviews and opt-out as amoCRM notes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from rq.job import Job
from sqlalchemy import select

from bridge.messaging.links import client_link, sign_client_link
from bridge.store.models import AppliedAction, Client, Visit, VisitService
from tests.fakes.http import serve
from webhooks.app import create_app

PHONE = "+380671234567"
EMAIL = "olga.petrenko@example.com"


def seed_client(services, *, name: str = "Ольга Петренко", tenant: str = "salon", past: int = 12) -> int:
    """A client with one upcoming booking, a cancelled and a no-show one (never shown) and ``past`` completed visits."""
    now = datetime.now(UTC)
    with services.store.session() as s:
        client = Client(tenant=tenant, source="yclients", external_id=f"c-{name}-{tenant}", name=name, phone=PHONE,
                        email=EMAIL, created_at=now, updated_at=now)
        s.add(client)
        s.flush()

        def visit(n: str, status: str, at: datetime, title: str) -> None:
            v = Visit(tenant=tenant, source="yclients", external_id=f"{client.id}-{n}", client_id=client.id,
                      status=status, start_at=at, duration_min=60, branch="111111", staff_id="2222",
                      staff_name="Анна", total_price=Decimal("650"), version=now, created_at=now, updated_at=now)
            v.services = [VisitService(external_id="3333", title=title, category="Манікюр", price=Decimal("650"))]
            s.add(v)

        visit("next", "scheduled", upcoming_at(now), "Манікюр + гель-лак")
        visit("cancelled", "cancelled", now + timedelta(days=5), "Скасований педикюр")
        visit("no-show", "no_show", now - timedelta(days=2), "Пропущений візит")
        for i in range(1, past + 1):  # visit 1 is the oldest
            visit(f"past-{i}", "completed", now - timedelta(days=7 * (past + 1 - i)), f"Візит №{i}")
        return client.id


def upcoming_at(now: datetime) -> datetime:
    return (now + timedelta(days=3)).replace(hour=9, minute=30, second=0, microsecond=0)


@pytest.fixture
def web(services) -> Iterator[str]:
    with serve(create_app(services=services)) as url:
        yield url


def page_url(services, base_url: str, client_id: int, *, expires_in: timedelta = timedelta(days=60),
             purpose: str = "client-page", tenant: str = "salon") -> str:
    return client_link(services.settings.secret_key, base_url, tenant, str(client_id), purpose,
                       datetime.now(UTC) + expires_in)


def csrf_of(html: str, action: str) -> str:
    """The hidden CSRF field of the form posting to ``.../<action>``, read as a browser would."""
    form = re.search(rf'action="[^"]*/{action}">\s*<input type="hidden" name="csrf" value="([0-9a-f]+)"', html)
    assert form, f"no {action} form on the page"
    return form.group(1)


def notes(services, client_id: int) -> list[AppliedAction]:
    with services.store.session() as s:
        return list(s.scalars(select(AppliedAction).where(AppliedAction.client_id == client_id,
                                                          AppliedAction.kind == "AddNote").order_by(AppliedAction.id)))


def opted_out(services, client_id: int) -> bool:
    with services.store.session() as s:
        return s.get(Client, client_id).opted_out


def crm_sync_queued(services) -> bool:
    try:
        Job.fetch("crm-salon", connection=services.queue.connection)
    except Exception:
        return False
    return True


def test_page_shows_upcoming_and_last_ten_completed_visits_with_masked_contacts(services, web):
    client_id = seed_client(services)
    response = requests.get(page_url(services, web, client_id), timeout=5)
    assert response.status_code == 200
    html = response.text
    assert '<html lang="uk">' in html and "Test Salon" in html
    assert "Вітаємо, Ольга!" in html and "Петренко" not in html
    # upcoming: local Kyiv date and time, service, master, branch name (not its id)
    at = upcoming_at(datetime.now(UTC)).astimezone(services.tenants["salon"].timezone)
    upcoming = html.split('id="upcoming"')[1].split('id="past"')[0]
    assert f"{at:%d.%m.%Y} · {at:%H:%M}" in upcoming
    assert "Манікюр + гель-лак" in upcoming and "Майстер: Анна" in upcoming and "Філія: Центр" in upcoming
    # past: the 10 newest completed, newest first; never cancelled or no-show bookings
    past = html.split('id="past"')[1].split('id="review"')[0]
    shown = [int(n) for n in re.findall(r"Візит №(\d+)", past)]
    assert shown == list(range(12, 2, -1))
    assert "Скасований педикюр" not in html and "Пропущений візит" not in html
    # contacts masked, never in full
    assert "+38067***4567" in html and "o***@example.com" in html
    assert PHONE not in html and EMAIL not in html and "671234567" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert 'id="opt-out"' in html and 'id="opt-in"' not in html


@pytest.mark.security
def test_names_are_escaped(services, web):
    client_id = seed_client(services, name="<script>alert(1)</script>")
    html = requests.get(page_url(services, web, client_id), timeout=5).text
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.security
def test_a_tampered_foreign_or_misdirected_link_is_a_bare_404(services, web):
    client_id = seed_client(services)
    good = page_url(services, web, client_id)
    payload, _, signature = good.rpartition("/c/")[2].partition(".")
    other_client = sign_client_link(services.settings.secret_key, "salon", str(client_id + 1000), "client-page",
                                    datetime.now(UTC) + timedelta(days=1))
    other_tenant_client = seed_client(services, name="Інша", tenant="elsewhere")
    urls = [
        f"{web}/c/{payload}.{signature[::-1]}",  # signature changed
        f"{web}/c/{payload[:-2]}xx.{signature}",  # claims changed
        f"{web}/c/not-a-token",
        page_url(services, web, client_id, purpose="unsubscribe"),  # signed, but for another use
        f"{web}/c/{other_client}",  # signed, but no such client
        page_url(services, web, other_tenant_client),  # signed for "salon", client of another salon
        page_url(services, web, client_id, tenant="elsewhere"),  # an unconfigured salon
    ]
    for url in urls:
        response = requests.get(url, timeout=5)
        assert response.status_code == 404, url
        assert "text/html" in response.headers["Content-Type"]
        assert "Ольга" not in response.text and "signature" not in response.text and "Test Salon" not in response.text
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.security
def test_an_expired_link_is_410_and_says_to_ask_the_salon(services, web):
    client_id = seed_client(services)
    response = requests.get(page_url(services, web, client_id, expires_in=timedelta(seconds=-1)), timeout=5)
    assert response.status_code == 410
    assert "Посилання застаріло" in response.text and "Test Salon" in response.text
    assert "Ольга" not in response.text


def test_a_review_is_one_pending_amocrm_note_even_when_posted_twice(services, web):
    client_id = seed_client(services)
    url = page_url(services, web, client_id)
    csrf = csrf_of(requests.get(url, timeout=5).text, "feedback")
    form = {"csrf": csrf, "text": "  Дуже дякую Анні!\r\nВсе чудово. "}
    assert not crm_sync_queued(services)
    first = requests.post(f"{url}/feedback", data=form, allow_redirects=False, timeout=5)
    second = requests.post(f"{url}/feedback", data=form, allow_redirects=False, timeout=5)
    for response in (first, second):
        assert response.status_code == 303
        assert response.headers["Location"].endswith("?done=feedback")
    [note] = notes(services, client_id)
    assert note.state == "pending" and note.key.startswith("note:client-page:feedback:")
    assert note.payload["client_id"] == str(client_id)
    assert note.payload["text"].endswith("Дуже дякую Анні!\nВсе чудово.")
    assert crm_sync_queued(services)
    thanks = requests.post(f"{url}/feedback", data=form, timeout=5)  # following the 303 like a browser
    assert thanks.status_code == 200 and "Дякуємо! Ваш відгук отримано." in thanks.text
    other = requests.post(f"{url}/feedback", data={**form, "text": "І ще одне побажання"}, timeout=5)
    assert other.status_code == 200 and len(notes(services, client_id)) == 2


@pytest.mark.parametrize(("text", "message"), [("   \r\n ", "Напишіть хоча б кілька слів."),
                                               ("<b>" + "я" * 2000, "Не більше 2000 символів.")])
def test_an_empty_or_too_long_review_is_422_with_the_page_and_nothing_stored(services, web, text, message):
    client_id = seed_client(services)
    url = page_url(services, web, client_id)
    csrf = csrf_of(requests.get(url, timeout=5).text, "feedback")
    response = requests.post(f"{url}/feedback", data={"csrf": csrf, "text": text}, timeout=5)
    assert response.status_code == 422
    assert message in response.text and "Манікюр + гель-лак" in response.text
    assert "<b>я" not in response.text  # the text is given back, escaped
    assert notes(services, client_id) == []


def test_opt_out_and_back_flip_the_flag_and_leave_one_note_each(services, web):
    client_id = seed_client(services)
    url = page_url(services, web, client_id)
    csrf = csrf_of(requests.get(url, timeout=5).text, "opt-out")
    for _ in range(2):  # a double click changes and notes once
        response = requests.post(f"{url}/opt-out", data={"csrf": csrf}, allow_redirects=False, timeout=5)
        assert response.status_code == 303 and response.headers["Location"].endswith("?done=opt-out")
    assert opted_out(services, client_id)
    [note] = notes(services, client_id)
    assert note.state == "pending" and note.payload["text"] == "Клієнт відмовився від повідомлень на своїй сторінці."
    assert crm_sync_queued(services)

    html = requests.get(url, timeout=5).text
    assert 'id="opt-in"' in html and "Відновити повідомлення" in html and 'id="opt-out"' not in html
    response = requests.post(f"{url}/opt-in", data={"csrf": csrf_of(html, "opt-in")}, timeout=5)
    assert response.status_code == 200 and "Готово: повідомлення відновлено." in response.text
    assert not opted_out(services, client_id)
    assert [n.payload["text"] for n in notes(services, client_id)][1] == (
        "Клієнт знову підписався на повідомлення на своїй сторінці.")


@pytest.mark.security
def test_forms_without_the_right_csrf_field_are_403_and_change_nothing(services, web):
    client_id = seed_client(services)
    url = page_url(services, web, client_id)
    html = requests.get(url, timeout=5).text
    someone_else = page_url(services, web, seed_client(services, name="Марія"))
    foreign = csrf_of(requests.get(someone_else, timeout=5).text, "opt-out")
    attempts = [
        ("opt-out", {}),
        ("opt-out", {"csrf": ""}),
        ("opt-out", {"csrf": "ü" * 64}),
        ("opt-out", {"csrf": csrf_of(html, "feedback")}),  # another action's field
        ("opt-out", {"csrf": foreign}),  # another link's field
        ("feedback", {"text": "hello"}),
        ("feedback", {"text": "hello", "csrf": csrf_of(html, "opt-out")}),
    ]
    for action, form in attempts:
        response = requests.post(f"{url}/{action}", data=form, allow_redirects=False, timeout=5)
        assert response.status_code == 403, (action, form)
        assert "text/html" in response.headers["Content-Type"]
    assert not opted_out(services, client_id)
    assert notes(services, client_id) == []
    assert not crm_sync_queued(services)


@pytest.mark.security
def test_forms_on_an_expired_or_bad_link_are_refused_before_anything_else(services, web):
    client_id = seed_client(services)
    expired = page_url(services, web, client_id, expires_in=timedelta(seconds=-1))
    assert requests.post(f"{expired}/opt-out", data={"csrf": "x"}, timeout=5).status_code == 410
    assert requests.post(f"{web}/c/bad.token/feedback", data={"text": "x"}, timeout=5).status_code == 404
    assert not opted_out(services, client_id)


def test_no_book_again_button_when_the_salon_names_no_booking_widget(services, web):
    client_id = seed_client(services, past=2)
    html = requests.get(page_url(services, web, client_id), timeout=5).text
    assert "Візит №2" in html and "book-again" not in html  # tests/e2e/test_client_page_browser.py: with one
