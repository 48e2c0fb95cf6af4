"""The Reconnect scan over the store, on both backends: what the playbook recorded, odd input, filters."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from bridge import intake
from bridge.store.models import Client
from bridge.store.reconnect import UnknownFilter, scan
from jobs.worker import run_worker
from tests.helpers import yclients_record
from tests.integration.reconnect_data import BRANCH_A, BRANCH_B, DAY, NOW, History


def at_risk(result) -> list[tuple]:
    return [(c.contact.name, c.assessment.history.category, c.assessment.interval_days, c.assessment.source.value,
             c.assessment.days_late) for c in result.clients]


def test_visits_processed_by_the_playbook_are_scanned(services):
    tenant = services.tenants["salon"]
    for i, day in enumerate(("2026-03-05", "2026-03-26", "2026-04-16")):
        body = yclients_record(500000100 + i, status="update", attendance=1, date=f"{day} 12:00:00",
                               changed=f"{day}T13:00:00+0200")
        intake.receive(services.store, services.queue, tenant, "yclients", body, datetime.now(UTC))
    run_worker(services, burst=True)
    result = scan(services.store, tenant, NOW)
    assert at_risk(result) == [("Ольга", "manicure", 21, "learned", 39)]  # expected 2026-05-07
    [row] = result.client_rows()
    assert (row["phone"], row["last_visit"], row["expected"], row["branch_name"]) == (
        "+380671234567", "2026-04-16", "2026-05-07", "Центр")
    assert result.overview.by_category["manicure"]["at_risk"] == 1


def test_an_upcoming_booking_at_another_branch_suppresses_and_filters_narrow_the_list(services):
    h = History(services.store)
    olha, iryna, anna = (h.client(n, f"+38067100000{i}") for i, n in enumerate(("Olha", "Iryna", "Anna")))
    h.regular(olha, NOW - 40 * DAY, 21)
    h.visit(olha, NOW + 3 * DAY, ("pedicure",), status="scheduled", branch=BRANCH_B)
    h.regular(iryna, NOW - 40 * DAY, 21, branch=BRANCH_B)
    h.regular(anna, NOW - 60 * DAY, 28, categories=("pedicure",))
    other = History(services.store, tenant="other")  # another salon in the same database
    other.regular(other.client("Elsewhere", "+380671000009"), NOW - 90 * DAY, 21)
    tenant = services.tenants["salon"]

    result = scan(services.store, tenant, NOW)
    assert at_risk(result) == [("Iryna", "manicure", 21, "learned", 19), ("Anna", "pedicure", 28, "learned", 32)]
    assert result.overview.total["suppressed"] == 1 and result.overview.total["at_risk"] == 2
    assert result.overview.by_branch[BRANCH_A]["suppressed"] == 1

    assert at_risk(scan(services.store, tenant, NOW, branch=BRANCH_B)) == [("Iryna", "manicure", 21, "learned", 19)]
    by_name = scan(services.store, tenant, NOW, category="Педикюр")
    assert (by_name.category, at_risk(by_name)) == ("pedicure", [("Anna", "pedicure", 28, "learned", 32)])
    assert [c["category"] for c in by_name.overview_json()["categories"]] == ["pedicure"]

    with pytest.raises(UnknownFilter) as err:
        scan(services.store, tenant, NOW, category="Massage")
    assert err.value.known == ["Манікюр (manicure)", "Педикюр (pedicure)"]
    with pytest.raises(UnknownFilter) as err:
        scan(services.store, tenant, NOW, branch="999")
    assert "111112 (Поділ)" in str(err.value)


def test_bad_input_is_handled_and_logged(services, caplog):
    h = History(services.store)
    olha = h.client("Olha", "+380671234567")
    h.visit(olha, NOW - 70 * DAY, duration=None)  # no end time: the start is all the rule needs
    h.visit(olha, NOW - 49 * DAY, source="yclients")
    h.visit(olha, NOW - 49 * DAY, source="generic")  # the same visit delivered twice, by two sources
    h.visit(olha, NOW - 28 * DAY, {"not": "a list"})
    h.visit(olha, NOW - 27 * DAY, "manicure")  # a JSON string, not a list
    h.visit(olha, NOW + 2 * DAY)  # marked completed before it happened
    h.visit(None, NOW - 10 * DAY)  # a booking with no client
    with caplog.at_level(logging.INFO, logger="bridge.store.reconnect"):
        result = scan(services.store, services.tenants["salon"], NOW)
    # two distinct visit days only (the duplicate counts once, the rest are not visits): the periodicity
    assert at_risk(result) == [("Olha", "manicure", 21, "periodicity", 28)]
    log = caplog.text
    assert "1 visits are marked completed but start in the future" in log
    assert "2 completed visits have no known category" in log
    assert "+380" not in log and "Olha" not in log


def test_a_client_merged_in_the_booking_system_is_one_client(services):
    h = History(services.store)
    old = h.client("Olha (old card)", "+380671234567", external_id="1")
    new = h.client("Olha", "+380671234567", external_id="2")  # the merge left two records with one phone
    h.visit(old, NOW - 80 * DAY)
    h.visit(old, NOW - 60 * DAY)
    h.visit(new, NOW - 40 * DAY)
    result = scan(services.store, services.tenants["salon"], NOW)
    assert at_risk(result) == [("Olha", "manicure", 20, "learned", 20)]
    assert result.clients[0].client_id == new  # the record of the latest visit is the one shown
    h.visit(old, NOW + 5 * DAY, status="confirmed")  # booked under the old record: still the same person
    result = scan(services.store, services.tenants["salon"], NOW)
    assert (result.clients, result.overview.total["suppressed"]) == ((), 1)


def test_a_category_renamed_in_the_booking_system_keeps_its_history(services, caplog):
    h = History(services.store)
    olha, iryna = h.client("Olha", "+380671234567"), h.client("Iryna", "+380671234568")
    for days_ago in (90, 60):
        h.visit(olha, NOW - days_ago * DAY, ["массаж"], services=[("55", "Массаж")])
    h.regular(iryna, NOW - 50 * DAY, 20, categories=["массаж"], services=[("56", "Массаж")])
    # the salon renames the category; from now on its services arrive under the new name
    h.visit(olha, NOW - 30 * DAY, ["массаж тела"], services=[("55", "Массаж тела")])
    with caplog.at_level(logging.WARNING, logger="bridge.store.reconnect"):
        result = scan(services.store, services.tenants["salon"], NOW)
    assert "'массаж' looks renamed to 'массаж тела'" in caplog.text
    assert result.categories == ("массаж тела",)
    # "massage" has no periodicity, so without the rename Olha (2 + 1 visits) could not be judged at all
    assert result.overview.by_category["массаж тела"] | {} == {
        "tracked": 2, "learned": 2, "due_this_week": 1, "due_this_month": 1, "at_risk": 1, "suppressed": 0}
    assert at_risk(result) == [("Iryna", "массаж тела", 20, "learned", 30)]


def test_a_long_scan_holds_up_no_writer(services):
    """The snapshot a scan reads from must not lock SQLite for the intake (which takes the write lock)."""
    History(services.store).visit(History(services.store).client("Olha", "+380671234567"), NOW - DAY)
    wrote = threading.Event()

    def write() -> None:
        with services.store.session() as s:
            s.add(Client(tenant="salon", name="New", tags=[], created_at=NOW, updated_at=NOW))
        wrote.set()

    with services.store.reading() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM visits").scalar()
        started = time.monotonic()
        writer = threading.Thread(target=write)
        writer.start()
        assert wrote.wait(timeout=5), "a write waited for the reading snapshot"
        assert time.monotonic() - started < 5
    writer.join()
