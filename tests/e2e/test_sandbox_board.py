"""What an amoCRM user would see: after `setup` and a few leads and tasks written through our client, the
sandbox board in headless Chromium shows our three pipelines' stage columns and the lead cards.

Set SALONBRIDGE_SCREENSHOT_DIR to keep the screenshot somewhere to look at (it always goes to tmp_path).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from bridge.amocrm.account_map import AccountMap
from bridge.amocrm.connect import client_for
from bridge.amocrm.provisioning import run_setup
from pipelines.stages import PIPELINE_NAMES, STAGE_NAMES, STAGES, Pipeline
from tests.integration import test_setup as shared

pytestmark = pytest.mark.slow
sandbox, salon, connected = shared.sandbox, shared.salon, shared.connected  # fixtures

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1400")
LEADS = (  # (name, pipeline, stage, price, client, phone)
    ("Манікюр з покриттям", Pipeline.SALES, "first_booking", 650, "Олена Коваль", "+380501112233"),
    ("Стрижка жіноча", Pipeline.SALES, "no_show", 900, "Ірина Мельник", "+380671234567"),
    ("Педикюр — повторний", Pipeline.REPEAT, "reminder_due", 800, "Марія Шевченко", "+380931112244"),
    ("Повернення: брови", Pipeline.LOST, "come_back_promo", 0, "Наталія Бондар", "+380661119988"),
)


@pytest.fixture
def browser(tmp_path: Path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def fill_account(client, ids: AccountMap) -> None:
    """Leads with a contact each, some custom field values, and two tasks — through our client."""
    branch, prepay = ids.field_id("leads", "branch"), ids.field_id("leads", "prepayment_status")
    leads = [
        {
            "name": name, "price": price, "pipeline_id": ids.pipeline_id(pipeline),
            "status_id": ids.status_id(pipeline, stage),
            "custom_fields_values": [
                {"field_id": branch, "values": [{"value": "Центр"}]},
                {"field_id": prepay, "values": [{"enum_id": ids.enum_id("leads", "prepayment_status", "paid")}]},
            ],
            "_embedded": {"contacts": [{"first_name": person, "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "MOB"}]}]}]},
        }
        for name, pipeline, stage, price, person, phone in LEADS
    ]
    created = client.create_complex_leads(leads)
    due = int(time.time()) + 3 * 86400
    client.create_tasks([
        {"text": "Зателефонувати: нагадати про педикюр", "complete_till": due, "entity_type": "leads",
         "entity_id": created[2]["id"], "task_type_id": 1},
        {"text": "Запропонувати повернутися до майстра", "complete_till": due - 5 * 86400, "entity_type": "leads",
         "entity_id": created[3]["id"], "task_type_id": 1},
    ])


def test_the_board_shows_our_stage_columns_and_the_lead_cards(connected, sandbox, browser, tmp_path):
    from selenium.webdriver.common.by import By

    tenant = connected.tenants["salon"]
    report = run_setup(tenant, connected)
    fill_account(client_for(tenant, connected), report.account_map)

    browser.get(sandbox.url + "/")

    text = browser.find_element(By.TAG_NAME, "body").text
    headings = [h.get_attribute("textContent") for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
    columns = [c.get_attribute("textContent").strip() for c in browser.find_elements(By.CSS_SELECTOR,
                                                                                      ".column-head b")]
    cards = [c.get_attribute("textContent").strip() for c in browser.find_elements(By.CSS_SELECTOR, ".card .name")]
    for pipeline in Pipeline:
        assert any(h.startswith(PIPELINE_NAMES["uk"][pipeline]) for h in headings), headings
        for stage in STAGES[pipeline]:
            if not (pipeline is Pipeline.SALES and stage == "first_booking"):  # renamed by the tenant's rules
                assert STAGE_NAMES["uk"][pipeline][stage] in columns
    assert shared.CUSTOM_FIRST_BOOKING in columns
    assert sorted(cards) == sorted(name for name, *_ in LEADS)
    for element in browser.find_elements(By.CSS_SELECTOR, ".card"):
        assert element.is_displayed()
    assert "Олена Коваль" in text and "Зателефонувати: нагадати про педикюр" in text
    assert "Оплачена" in browser.page_source  # the select option's name on the card

    shot = tmp_path / "sandbox-board.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1600, height + 200)  # the whole page, tasks table included
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep = os.environ.get("SALONBRIDGE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
