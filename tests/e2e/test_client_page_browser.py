"""The client's page in a real headless Chromium: a review and an opt-out, clicked as a client would."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.http import serve
from tests.integration.test_client_page import notes, opted_out, page_url, seed_client
from webhooks.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromedriver are not both on PATH (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=500,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)  # lay the page out as a phone does
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_whole_page(browser: webdriver.Chrome, path: Path) -> None:
    """One picture of the whole page at the phone's width (for a person to look at)."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "height": height})
    browser.save_screenshot(str(path))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)


def test_a_client_leaves_a_review_and_opts_out_in_a_browser(services, browser, tmp_path):
    client_id = seed_client(services)
    with serve(create_app(services=services)) as web:
        browser.get(page_url(services, web, client_id))
        wait = WebDriverWait(browser, 10)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Вітаємо, Ольга!"
        assert "+38067***4567" in browser.find_element(By.ID, "contacts").text

        browser.find_element(By.ID, "review-text").send_keys("Дуже дякую Анні!\nВсе чудово.")
        browser.find_element(By.ID, "send-review").click()
        flash = wait.until(ec.visibility_of_element_located((By.ID, "flash")))
        assert flash.text == "Дякуємо! Ваш відгук отримано."
        assert browser.current_url.endswith("?done=feedback")

        browser.find_element(By.ID, "opt-out").click()
        resume = wait.until(ec.visibility_of_element_located((By.ID, "opt-in")))
        assert resume.text == "Відновити повідомлення"
        screenshot_whole_page(browser, tmp_path / "client_page.png")

    assert opted_out(services, client_id)
    texts = [n.payload["text"] for n in notes(services, client_id)]
    assert len(texts) == 2 and texts[0].endswith("Дуже дякую Анні!\nВсе чудово.")
    assert texts[1] == "Клієнт відмовився від повідомлень на своїй сторінці."


@pytest.fixture
def salon_with_widget(settings):
    """The salon's own booking widget (a fake that shows what it was asked for) named in the tenant file."""
    from flask import Flask, request

    from bridge.services import Services
    from tests.conftest import TENANT_YAML

    widget, asked = Flask("fake_widget"), []

    @widget.get("/company/<branch>/record")
    def record(branch: str) -> str:
        asked.append({"branch": branch, "o": request.args.get("o"), "referer": request.headers.get("Referer")})
        return f"<h1 id='widget'>Запис: філія {branch}, {request.args.get('o')}</h1>"

    with serve(widget) as widget_url:
        booking_url = f"{widget_url}/company/{{branch_id}}/record?o=m{{staff_id}}s{{service_id}}"
        (settings.tenants_dir / "salon.yaml").write_text(
            TENANT_YAML + f"clients:\n  booking_url: '{booking_url}'\n", encoding="utf-8")
        svc = Services.build(settings, migrate=True)
        try:
            yield svc, asked
        finally:
            svc.close()


def test_book_again_opens_the_salons_widget_for_the_same_service_and_master(salon_with_widget, browser):
    services, asked = salon_with_widget
    client_id = seed_client(services, past=2)
    with serve(create_app(services=services)) as web:
        browser.get(page_url(services, web, client_id))
        page = browser.current_window_handle
        button = browser.find_element(By.ID, "book-again-1")  # the last visit's
        assert button.text == "Записатися знову"
        button.click()
        WebDriverWait(browser, 10).until(lambda b: len(b.window_handles) == 2)
        browser.switch_to.window(next(h for h in browser.window_handles if h != page))
        widget = WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "widget")))
        assert widget.text == "Запис: філія 111111, m2222s3333"
    assert asked == [{"branch": "111111", "o": "m2222s3333", "referer": None}]  # the page's link stays private
