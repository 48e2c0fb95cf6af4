"""What amoCRM users report on: every lead the robot makes has its budget and the branch, master,
category and last-visit fields, in all three pipelines."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from pipelines.actions import CreateLead, MoveLead
from pipelines.events import BookingStatus as S
from pipelines.rules.leads import budget
from pipelines.snapshot import ClientState
from pipelines.stages import Pipeline
from tests.unit.playbook_sim import MANICURE, POLICY, T0, Salon, of
from tests.unit.playbook_sim import event as ev

DAY = timedelta(days=1)
FIELDS = {"branch", "favourite_master", "last_category", "last_visit"}
PODIL = dataclasses.replace(POLICY, branch_names={"b2": "Podil"})


def test_the_sales_lead_carries_the_booking_value_and_its_branch_master_category_and_date():
    salon = Salon(policy=PODIL)
    actions = salon.send(ev("v1", S.SCHEDULED, T0 + 3 * DAY, MANICURE, occurred=T0, master="Наталія",
                            branch="b2", price=Decimal("850.50")))
    [lead] = of(actions, CreateLead)
    assert lead.pipeline is Pipeline.SALES and lead.price == 851
    assert lead.fields == {"branch": "Podil", "favourite_master": "Наталія", "last_category": "Manicure",
                           "last_visit": "2026-03-05T12:00:00+02:00"}


def test_every_lead_of_a_clients_year_has_a_budget_and_all_four_fields():
    client = ClientState("c1", "Olha", reachable=True)
    salon = Salon(policy=PODIL, snapshot=dataclasses.replace(Salon().snapshot, client=client))
    leads: list[CreateLead] = []
    leads += of(salon.send(ev("v1", S.SCHEDULED, T0, MANICURE, occurred=T0 - DAY, branch="b2",
                              price=Decimal(600))), CreateLead)
    leads += of(salon.send(ev("v1", S.COMPLETED, T0, MANICURE, occurred=T0, branch="b2", price=Decimal(650))),
                CreateLead)
    leads += of(salon.tick_daily(T0 + DAY, 120), CreateLead)  # no rebooking: reminders, then Lost clients
    assert [lead.pipeline for lead in leads] == [Pipeline.SALES, Pipeline.REPEAT, Pipeline.LOST]
    for lead in leads:
        assert set(lead.fields) == FIELDS, lead.pipeline
        assert lead.fields["branch"] == "Podil" and lead.fields["favourite_master"] == "Anna"
    assert [lead.price for lead in leads] == [600, 650, 650]


def test_a_lead_without_a_known_value_has_no_budget_rather_than_zero():
    assert budget(None) is None and budget(Decimal(0)) is None
    assert budget(Decimal("99.49")) == 99 and budget(Decimal("99.5")) == 100


def test_a_lead_won_by_a_booking_takes_that_bookings_value_as_its_budget():
    salon = Salon(policy=PODIL)
    salon.send(ev("v1", S.SCHEDULED, T0, MANICURE, occurred=T0 - DAY, price=Decimal(600)))
    done = salon.send(ev("v1", S.COMPLETED, T0, MANICURE, occurred=T0, price=Decimal(720)))
    [won] = [m for m in of(done, MoveLead) if m.pipeline is Pipeline.SALES]
    assert (won.stage, won.price) == ("won", 720)  # the visit as paid, not as first booked
    rebooked = salon.send(ev("v2", S.SCHEDULED, T0 + 20 * DAY, MANICURE, occurred=T0 + 18 * DAY,
                             price=Decimal(900)))
    [repeat] = [m for m in of(rebooked, MoveLead) if m.pipeline is Pipeline.REPEAT]
    assert (repeat.stage, repeat.price) == ("won", 900)
    assert all(m.price is None for m in of(salon.tick_daily(T0 + DAY, 3), MoveLead))  # time moves: no budget
