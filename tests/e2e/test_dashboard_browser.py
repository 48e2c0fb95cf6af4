"""The dashboard in a real headless Chromium: sign in as a salon manager and as the agency, open every page,
follow the links a person would (Reconnect's "Send" goes out through a fake SMS gateway over HTTP, a
report and a segment are downloaded as XLSX and read back), switch the language, and keep a screenshot
of each page.

Screenshots are test artefacts, written to ``tests/artifacts/dashboard/`` (git-ignored; CI can upload
the folder). ``docs/img/overview.png`` in the README is the overview picture from this test.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from jobs.messages import send_due
from tests.fakes.http import serve
from tests.fakes.sms import FakeSmsGateway
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
DOWNLOADS = ARTIFACTS / "downloads"
WIDTH = 1280


@pytest.fixture
def gateway() -> Iterator[tuple[FakeSmsGateway, str]]:
    sms = FakeSmsGateway()
    with serve(sms.app()) as url:
        yield sms, url


@pytest.fixture
def tenants_dir(tenants_dir: Path, gateway, monkeypatch) -> Path:
    """The test salon sends SMS through the fake gateway, at any hour, and only what a campaign sends."""
    sms, url = gateway
    monkeypatch.setenv("SALON_SMS_TOKEN", sms.token)
    path = tenants_dir / "salon.yaml"
    path.write_text(path.read_text(encoding="utf-8") + (
        "rules:\n  quiet_hours: null\n  triggers: {repeat_reminder: false, lost_sequence: false}\n"
        f"  channels:\n    sms:\n      url: {url}/api/send\n      token_env: SALON_SMS_TOKEN\n"
        "      body: {to: phone, text: message}\n      id_path: data.message_id\n"), encoding="utf-8")
    return tenants_dir


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
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(DOWNLOADS)})
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


def download(browser: webdriver.Chrome, link_id: str, suffix: str) -> Path:
    """Click a download link and wait for the finished file (the newest ``*suffix`` in the download folder)."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    for old in DOWNLOADS.iterdir():
        old.unlink()
    browser.find_element(By.ID, link_id).click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [f for f in DOWNLOADS.iterdir() if f.name.endswith(suffix)]
        if done and not any(f.name.endswith(".crdownload") for f in DOWNLOADS.iterdir()):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} was downloaded from #{link_id}")


def live_count(browser: webdriver.Chrome, expected: str) -> None:
    """Wait until the segment builder's live count (asked by its script) says ``expected``."""
    WebDriverWait(browser, 15).until(
        lambda b: b.find_element(By.ID, "segment-count").get_attribute("data-count") == expected)
    assert expected in browser.find_element(By.ID, "segment-count").text


def sign_in(browser: webdriver.Chrome, web: str, username: str) -> None:
    browser.get(f"{web}/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(browser, By.ID, "sign-in")


def open_menu(browser: webdriver.Chrome, page: str) -> None:
    click_and_wait(browser, By.ID, f"nav-{page}")
    assert "on" in browser.find_element(By.ID, f"nav-{page}").get_attribute("class")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_salon_manager_goes_through_every_page_in_a_browser(dash, browser, backend, gateway):  # noqa: F811
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
        assert browser.find_element(By.ID, "no-results").is_displayed()  # no campaign yet: nothing to chart
        screenshot(browser, "reconnect")
        assert campaigns() is not None
        click_and_wait(browser, By.ID, "send-manicure")  # asks first: how many, through which channel
        assert "1" in browser.find_element(By.ID, "confirm-text").text
        screenshot(browser, "reconnect-confirm")
        Select(browser.find_element(By.ID, "channel")).select_by_value("sms")
        click_and_wait(browser, By.ID, "recount")  # another channel: counted again before sending
        assert "SMS?" in browser.find_element(By.ID, "confirm-text").text
        assert gateway[0].messages == []  # asking sent nothing
        click_and_wait(browser, By.ID, "confirm-send")
        assert browser.find_element(By.ID, "flash").text.startswith("Надіслано")
        send_due(dash, datetime.now(UTC))  # the clock's sender: the SMS goes to the gateway over HTTP
        [sms] = gateway[0].messages
        assert "380675550000" in json.dumps(sms)  # Марія, the manicure client at risk
        browser.refresh()
        chart = browser.find_element(By.ID, "chart-manicure")
        assert "0 / 1" in chart.text  # contacted this month, not rebooked yet
        bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar.contacted")
        assert [b.get_attribute("data-value") for b in bars] == ["0", "0", "1"] and bars[2].size["height"] > 50
        screenshot(browser, "reconnect-results")

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
        sheet = load_workbook(download(browser, "download-xlsx", ".xlsx")).active
        header = [c.value for c in sheet[1]]
        [paid] = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
        assert paid[header.index("status")] == "paid" and paid[header.index("amount")] == 300

        open_menu(browser, "clients")
        browser.find_element(By.ID, "client-query").send_keys("+380671234567")
        click_and_wait(browser, By.ID, "client-search")
        click_and_wait(browser, By.CSS_SELECTOR, "#clients-found a")
        assert browser.find_element(By.ID, "card-name").text == "Ольга Петренко"
        assert browser.find_element(By.ID, "card-visits").text == "12"
        screenshot(browser, "client-card")
        open_menu(browser, "clients")
        visits = browser.find_element(By.ID, "f-visits")
        visits.send_keys("10..")  # the count follows the typing: Ольга alone has 10 visits or more
        live_count(browser, "1")
        Select(browser.find_element(By.ID, "f-blacklisted")).select_by_value("yes")
        live_count(browser, "0")
        Select(browser.find_element(By.ID, "f-blacklisted")).select_by_value("")
        visits.clear()
        visits.send_keys("4..4")
        live_count(browser, "3")
        click_and_wait(browser, By.ID, "segment-show")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#segment-clients tr")) == 1 + 3
        screenshot(browser, "clients-segment")
        rows = list(load_workbook(download(browser, "segment-xlsx", ".xlsx")).active.iter_rows(values_only=True))
        assert sorted(r[1] for r in rows[1:]) == ["Ірина Шевчук", "Марія Коваль", "Оксана Бондар"]

        open_menu(browser, "reports")
        screenshot(browser, "reports")
        for name in ("birthdays", "planned", "new_clients", "lost", "rating"):
            click_and_wait(browser, By.ID, f"report-{name}")
            assert browser.find_elements(By.CSS_SELECTOR, ".report-table"), name
        assert "Ольга Петренко" in browser.find_element(By.CSS_SELECTOR, ".report-table").text
        screenshot(browser, "report-rating")
        book = load_workbook(download(browser, "download-xlsx", ".xlsx"))
        assert book.sheetnames == ["client rating", "by card type", "by status"]
        assert [c.value for c in book["client rating"][2]][2] == "Ольга Петренко"

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
