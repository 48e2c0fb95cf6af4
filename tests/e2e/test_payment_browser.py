"""A client pays a prepayment in a real headless Chromium: the link from salonbridge, the provider's page
(the payment sandbox), the "Pay" button, back to the salon; the callback has made the prepayment paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bridge.payments import provider_for
from bridge.payments.links import open_payment
from tests.e2e.test_client_page_browser import By, WebDriverWait, browser, ec  # noqa: F401  (skips without Chromium)
from tests.integration.test_payment_hooks import (  # noqa: F401  (fixtures)
    app,
    calm_sandbox,
    ledger,
    row_of,
    sandbox,
    tenants_dir,
    web,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("provider", ["liqpay", "wayforpay"])
def test_the_client_pays_on_the_providers_page(services, web, browser, provider):  # noqa: F811
    tenant = services.tenants["salon"]
    now = datetime.now(UTC)
    opened = open_payment(services.store, tenant, booking_id=f"browser-{provider}", amount=Decimal("300"),
                          currency="UAH", deadline_at=now + timedelta(hours=12),
                          description="Передоплата: манікюр 14.06 10:00", public_url=web, now=now,
                          result_url=f"{web}/healthz", provider=provider_for(tenant, provider))
    browser.get(opened.url)
    WebDriverWait(browser, 10).until(ec.element_to_be_clickable((By.ID, "pay")))
    assert "300" in browser.find_element(By.ID, "amount").text
    assert "манікюр" in browser.find_element(By.ID, "description").text
    browser.find_element(By.ID, "pay").click()
    WebDriverWait(browser, 10).until(ec.url_contains("/healthz"))  # back on the salon's side
    row = row_of(services, opened.order_ref)
    assert row.status == "paid" and ledger(services, opened.order_ref) == [("income", Decimal("300"))]
