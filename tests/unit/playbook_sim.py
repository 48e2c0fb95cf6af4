"""A tiny in-memory executor for playbook tests: carries actions out against a Snapshot.

It stands in for the job layer (store + amoCRM + messaging) just enough to run multi-step scenarios:
bookkeeping actions change the snapshot, tasks / leads / messages land in plain dicts and lists the
tests can look at, and every applied key is recorded in ``snapshot.applied``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pipelines.actions import (
    Action,
    CancelMessage,
    ChangePrepayment,
    CloseCycle,
    CompleteTask,
    CreateLead,
    CreateTask,
    MoveLead,
    OpenCycle,
    RecordLostStep,
    RecordVisit,
    RequestPrepayment,
    RestoreTask,
    SendMessage,
    UpdateCycle,
)
from pipelines.events import Booking, BookingStatus, ClientInfo, GoodsLine, ServiceLine, Staff, VisitEvent
from pipelines.fold import closed, stored_visit
from pipelines.planner import due, plan
from pipelines.policy import Policy
from pipelines.snapshot import (
    ClientState,
    Cycle,
    LeadState,
    LeadStatus,
    LostProgress,
    PrepaymentState,
    Snapshot,
    TaskState,
)
from pipelines.stages import Outcome

TZ = ZoneInfo("Europe/Kyiv")
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=TZ)  # a Monday, noon
POLICY = Policy("salon", timezone=TZ, working_hour=10, language="en", quiet_hours=None, frequency_cap=None)

MANICURE = ServiceLine("m1", "Gel manicure", "Манікюр")
MANICURE_CLASSIC = ServiceLine("m2", "Classic manicure", "Манікюр")
PEDICURE = ServiceLine("p1", "Pedicure", "Педикюр")
HAIRCUT = ServiceLine("h1", "Haircut", "Стрижка")
MYSTERY = ServiceLine("x1", "Something new", None)


def event(
    booking_id: str,
    status: BookingStatus,
    start: datetime,
    *services: ServiceLine,
    occurred: datetime,
    master: str = "Anna",
    branch: str = "b1",
    phone: str | None = "+380671234567",
    duration: int = 60,
    price: Decimal | None = None,
    goods: tuple[GoodsLine, ...] | None = None,
) -> VisitEvent:
    staff = Staff(f"id-{master}", master)
    reported = () if goods is None else ("product", "material")
    booking = Booking(booking_id, status, start, duration, branch, staff, tuple(services or (MANICURE,)),
                      total_price=price, goods=goods or (), goods_reported=reported)
    client = ClientInfo("c-ext", "Olha", phone, None)
    return VisitEvent("salon", "yclients", f"{booking_id}:{occurred.isoformat()}", occurred, booking, client)


@dataclass
class Task:
    text: str
    deadline: datetime
    open: bool = True
    result: str | None = None


@dataclass
class Salon:
    """One client's world: what the store would hold, plus what amoCRM and the SMS gateway saw."""

    policy: Policy = POLICY
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(client=ClientState("c1", "Olha", reachable=True)))
    tasks: dict[str, Task] = field(default_factory=dict)
    messages: list[SendMessage] = field(default_factory=list)
    log: list[Action] = field(default_factory=list)
    _events: dict[str, VisitEvent] = field(default_factory=dict)

    # --- driving -------------------------------------------------------------------------------

    def snapshot_for(self, ev: VisitEvent) -> Snapshot:
        stored = next((v for v in self.snapshot.client_visits if v.external_id == ev.booking.external_id), None)
        return dataclasses.replace(self.snapshot, visit=stored)

    def send(self, ev: VisitEvent, now: datetime | None = None) -> list[Action]:
        now = now or ev.occurred_at
        actions = plan(ev, self.snapshot_for(ev), self.policy, now)
        self._events[ev.dedupe_key] = ev
        self.apply(actions, now, ev)
        return actions

    def tick(self, now: datetime) -> list[Action]:
        actions = due(self.snapshot, self.policy, now)
        self.apply(actions, now)
        return actions

    def tick_daily(self, start: datetime, days: int) -> list[Action]:
        out: list[Action] = []
        for day in range(days + 1):
            out += self.tick(start + timedelta(days=day))
        return out

    # --- what people do in amoCRM ------------------------------------------------------------

    def person_completes_task(self, category: str) -> None:
        cycle = self.snapshot.cycle(category)
        assert cycle is not None
        self.tasks[cycle.task_key].open = False
        self._cycle(dataclasses.replace(cycle, task_state=TaskState.DONE_BY_PERSON))

    def person_moves_lead(self, key: str, stage: str) -> None:
        leads = tuple(
            dataclasses.replace(x, stage=stage, manual=True) if x.key == key else x for x in self.snapshot.leads
        )
        self.snapshot = dataclasses.replace(self.snapshot, leads=leads)

    # --- the executor --------------------------------------------------------------------------

    def apply(self, actions: list[Action], now: datetime, ev: VisitEvent | None = None) -> None:
        for action in actions:
            self.log.append(action)
            handler = getattr(self, f"_do_{action.kind}", None)
            if handler is not None:
                handler(action, now, ev)
            self.snapshot = dataclasses.replace(self.snapshot, applied=self.snapshot.applied | {action.key})

    def _do_RecordVisit(self, a: RecordVisit, now: datetime, ev: VisitEvent | None) -> None:
        assert ev is not None
        b = ev.booking
        stored = next((v for v in self.snapshot.client_visits if v.external_id == b.external_id), None)
        state = stored_visit(ev, a.categories, stored)
        visits = tuple(v for v in self.snapshot.client_visits if v.external_id != b.external_id) + (state,)
        client = self.snapshot.client
        if client and b.status is BookingStatus.COMPLETED:
            client = dataclasses.replace(client, has_completed_visit=True)
        self.snapshot = dataclasses.replace(self.snapshot, client_visits=visits, client=client)

    def _do_CreateLead(self, a: CreateLead, now: datetime, ev: VisitEvent | None) -> None:
        lead = LeadState(a.key, a.pipeline, a.stage)
        self.snapshot = dataclasses.replace(self.snapshot, leads=(*self.snapshot.leads, lead))

    def _do_MoveLead(self, a: MoveLead, now: datetime, ev: VisitEvent | None) -> None:
        status = {Outcome.OPEN: LeadStatus.OPEN, Outcome.WON: LeadStatus.WON, Outcome.LOST: LeadStatus.LOST}
        leads = tuple(
            dataclasses.replace(x, stage=a.stage, status=status[a.outcome], manual=False) if x.key == a.lead_key else x
            for x in self.snapshot.leads
        )
        self.snapshot = dataclasses.replace(self.snapshot, leads=leads)

    def _do_CreateTask(self, a: CreateTask, now: datetime, ev: VisitEvent | None) -> None:
        self.tasks[a.key] = Task(a.text, a.deadline)

    def _do_CompleteTask(self, a: CompleteTask, now: datetime, ev: VisitEvent | None) -> None:
        task = self.tasks[a.task_key]
        task.open, task.result = False, a.result

    def _do_RestoreTask(self, a: RestoreTask, now: datetime, ev: VisitEvent | None) -> None:
        task = self.tasks[a.task_key]
        task.open, task.deadline, task.result = True, a.deadline, None

    def _do_SendMessage(self, a: SendMessage, now: datetime, ev: VisitEvent | None) -> None:
        self.messages.append(a)
        client = self.snapshot.client
        if client and a.template == "welcome":
            self.snapshot = dataclasses.replace(self.snapshot, client=dataclasses.replace(client, welcome_sent=True))
        if a.marketing:
            sent = (*self.snapshot.marketing_sent_at, a.send_at or now)
            self.snapshot = dataclasses.replace(self.snapshot, marketing_sent_at=sent)

    def _do_CancelMessage(self, a: CancelMessage, now: datetime, ev: VisitEvent | None) -> None:
        self.messages = [
            m for m in self.messages if not (m.template == a.template and m.booking_id == a.booking_id and m.send_at)
        ]

    def _do_OpenCycle(self, a: OpenCycle, now: datetime, ev: VisitEvent | None) -> None:
        cycle = a.cycle()
        others = tuple(c for c in self.snapshot.cycles if (c.category, c.anchor_visit_id) != (a.category,
                                                                                            a.anchor_visit_id))
        self.snapshot = dataclasses.replace(self.snapshot, cycles=(*others, cycle))

    def _do_UpdateCycle(self, a: UpdateCycle, now: datetime, ev: VisitEvent | None) -> None:
        cycle = next((c for c in self.snapshot.cycles if (c.category, c.anchor_visit_id) == (a.category,
                                                                                              a.anchor_visit_id)), None)
        if cycle is None:  # closed already: the store updates it there
            self.snapshot = dataclasses.replace(self.snapshot, closed_cycles=tuple(
                dataclasses.replace(c, task_state=a.task_state, cancelled_by=a.cancelled_by, task_exists=a.task_exists)
                if (c.category, c.anchor_visit_id) == (a.category, a.anchor_visit_id) else c
                for c in self.snapshot.closed_cycles))
            return
        self._cycle(
            dataclasses.replace(cycle, task_state=a.task_state, cancelled_by=a.cancelled_by, task_exists=a.task_exists)
        )

    def _do_CloseCycle(self, a: CloseCycle, now: datetime, ev: VisitEvent | None) -> None:
        one = (a.category, a.anchor_visit_id)
        cycles = tuple(c for c in self.snapshot.cycles if (c.category, c.anchor_visit_id) != one)
        gone = tuple(closed(c, a) for c in self.snapshot.cycles if (c.category, c.anchor_visit_id) == one)
        self.snapshot = dataclasses.replace(self.snapshot, cycles=cycles,
                                            closed_cycles=(*self.snapshot.closed_cycles, *gone))

    def _do_RecordLostStep(self, a: RecordLostStep, now: datetime, ev: VisitEvent | None) -> None:
        progress = LostProgress(a.anchor_visit_id, a.lead_key, a.step, a.at)
        self.snapshot = dataclasses.replace(self.snapshot, lost=progress)

    def _do_RequestPrepayment(self, a: RequestPrepayment, now: datetime, ev: VisitEvent | None) -> None:
        state = PrepaymentState(a.booking_id, a.attempt, f"bk-{a.booking_id}-{a.attempt}", "pending", a.amount,
                                a.currency, a.deadline_at)
        self._prepayment(state)

    def _do_ChangePrepayment(self, a: ChangePrepayment, now: datetime, ev: VisitEvent | None) -> None:
        current = self.snapshot.prepayment(a.booking_id)
        assert current is not None and current.status == a.old_status
        self._prepayment(dataclasses.replace(current, status=a.new_status))

    def _prepayment(self, state: PrepaymentState) -> None:
        others = tuple(p for p in self.snapshot.prepayments if p.booking_id != state.booking_id)
        self.snapshot = dataclasses.replace(self.snapshot, prepayments=(*others, state))

    def _cycle(self, cycle: Cycle) -> None:
        others = tuple(c for c in self.snapshot.cycles
                       if (c.category, c.anchor_visit_id) != (cycle.category, cycle.anchor_visit_id))
        self.snapshot = dataclasses.replace(self.snapshot, cycles=(*others, cycle))

    # --- looking -------------------------------------------------------------------------------

    def lead(self, pipeline: str) -> LeadState | None:
        return next((x for x in reversed(self.snapshot.leads) if x.pipeline == pipeline), None)

    def sent(self, template: str) -> list[SendMessage]:
        return [m for m in self.messages if m.template == template]


def kinds(actions: list[Action]) -> list[str]:
    return [a.kind for a in actions]


def of(actions: list[Action], kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]
