"""The dashboard in a real headless Chromium: sign in as a salon manager and as the agency, open every page,
follow the links a person would, switch the language, and keep a screenshot of each page.

Screenshots are test artefacts, written to ``tests/artifacts/dashboard/`` (git-ignored; CI can upload
the folder). ``docs/img/overview.png`` in the README is the overview picture from this test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.http import serve
from tests.integration.dashboard_data import PASSWORD, dash  # noqa: F401 (fixture)
from webhooks.app import create_app
from webhooks.dashboard.campaigns import campaigns

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromedriver are not both on PATH (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
WIDTH = 1280


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    """The whole page at desktop width, as ``tests/artifacts/dashboard/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": WIDTH, "height": min(height, 4000), "deviceScaleFactor": 1, "mobile": False})
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def click_and_wait(browser: webdriver.Chrome, by: str, selector: str) -> None:
    """Click what loads a new page, and wait until the new page has replaced the old one."""
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, selector).click()
    WebDriverWait(browser, 30).until(ec.staleness_of(old))


def sign_in(browser: webdriver.Chrome, web: str, username: str) -> None:
    browser.get(f"{web}/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(browser, By.ID, "sign-in")


def open_menu(browser: webdriver.Chrome, page: str) -> None:
    click_and_wait(browser, By.ID, f"nav-{page}")
    assert "on" in browser.find_element(By.ID, f"nav-{page}").get_attribute("class")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_salon_manager_goes_through_every_page_in_a_browser(dash, browser, backend):  # noqa: F811
    with serve(create_app(services=dash)) as web:
        browser.get(f"{web}/t/salon/prepayments")
        assert browser.current_url.startswith(f"{web}/login?next=")
        screenshot(browser, "login")
        browser.find_element(By.ID, "username").send_keys("olena")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        click_and_wait(browser, By.ID, "sign-in")
        assert browser.current_url == f"{web}/t/salon/prepayments"  # back where the visitor was going

        browser.get(f"{web}/t/salon/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Огляд"
        assert browser.find_element(By.CSS_SELECTOR, "#events-today .big").text == "9"
        assert "RuntimeError" in browser.find_element(By.ID, "failed-jobs").text
        screenshot(browser, "overview")
        click_and_wait(browser, By.CSS_SELECTOR, "#failed-jobs button")
        assert browser.find_element(By.ID, "flash").text == "Завдання знову в черзі."
        assert "Завдань з помилкою немає." in browser.find_element(By.ID, "failed-jobs").text

        open_menu(browser, "playbook")
        assert "Час нагадати" in browser.find_element(By.ID, "pipelines").text
        browser.find_element(By.ID, "client-query").send_keys("Ольга")
        click_and_wait(browser, By.ID, "client-search")
        screenshot(browser, "playbook")
        click_and_wait(browser, By.CSS_SELECTOR, "#clients-found a")
        assert browser.find_element(By.ID, "amo-contact").get_attribute("href").endswith("/contacts/detail/777001")
        screenshot(browser, "timeline")

        open_menu(browser, "reconnect")
        table = browser.find_element(By.ID, "reconnect").text
        assert "Манікюр" in table and "Педикюр" in table
        screenshot(browser, "reconnect")
        if campaigns() is not None:  # "Send" once Reconnect campaigns exist: asks first, then sends
            click_and_wait(browser, By.ID, "send-manicure")
            assert "1" in browser.find_element(By.ID, "confirm-text").text
            screenshot(browser, "reconnect-confirm")
            Select(browser.find_element(By.ID, "channel")).select_by_value("sms")
            click_and_wait(browser, By.ID, "recount")  # another channel: counted again before sending
            assert "SMS?" in browser.find_element(By.ID, "confirm-text").text
            click_and_wait(browser, By.ID, "confirm-send")
            assert browser.find_element(By.ID, "flash").text.startswith("Надіслано")

        open_menu(browser, "prepayments")
        pills = {p.get_attribute("data-status"): p.value_of_css_property("background-color")
                 for p in browser.find_elements(By.CSS_SELECTOR, "#prepayments .pill")}
        assert pills["paid"] == "rgba(43, 138, 62, 1)"  # green
        assert pills["expired"] == pills["cancelled"] == "rgba(201, 42, 42, 1)"  # red
        assert pills["pending"] == "rgba(134, 142, 150, 1)"  # grey
        screenshot(browser, "prepayments")
        Select(browser.find_element(By.ID, "status-filter")).select_by_value("paid")
        click_and_wait(browser, By.ID, "apply-filters")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#prepayments .pill")) == 1
        assert "status=paid" in browser.find_element(By.ID, "download-csv").get_attribute("href")

        open_menu(browser, "settings")
        assert "•••" in browser.find_element(By.ID, "addresses").text
        screenshot(browser, "settings")

        Select(browser.find_element(By.ID, "language")).select_by_value("en")
        click_and_wait(browser, By.CSS_SELECTOR, "#language-form button")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Settings"
        open_menu(browser, "overview")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
        screenshot(browser, "overview-en")

        browser.get(f"{web}/t/other/")
        assert browser.find_element(By.ID, "error-title").text == "Page not found"
        click_and_wait(browser, By.ID, "logout")
        assert browser.current_url == f"{web}/login"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_agency_sees_every_salon_in_a_browser(dash, browser, backend):  # noqa: F811
    with serve(create_app(services=dash)) as web:
        sign_in(browser, web, "agency")
        rows = browser.find_element(By.ID, "tenants").text
        assert "Test Salon" in rows and "Other Salon" in rows
        screenshot(browser, "agency")
        click_and_wait(browser, By.LINK_TEXT, "Other Salon")
        assert browser.current_url == f"{web}/t/other/"
        browser.get(f"{web}/t/salon/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Огляд"  # the salon's language (uk) until chosen
        Select(browser.find_element(By.ID, "language")).select_by_value("en")
        click_and_wait(browser, By.CSS_SELECTOR, "#language-form button")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
        screenshot(browser, "overview-agency-en")  # the README's picture (docs/img/overview.png)
