"""What the playbook wrote comes back in the client's snapshot, in the same few queries however long the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert

from bridge.store import actions, playbook
from bridge.store.models import Client, Visit, VisitService
from pipelines import actions as act
from pipelines.snapshot import LostStep, TaskState
from pipelines.stages import Pipeline

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def _client(s) -> Client:
    client = Client(tenant="salon", source="yclients", external_id="1", name="Олена", phone="+380670000001",
                    created_at=NOW, updated_at=NOW, tags=[], blacklisted=False)
    s.add(client)
    s.flush()
    return client


def _visits(s, client: Client, count: int) -> None:
    for i in range(count):
        s.add(Visit(tenant="salon", source="yclients", external_id=f"v{count}-{i}", client=client,
                    status="completed", start_at=NOW - timedelta(days=30 * (i + 1)), version=NOW, history=[],
                    created_at=NOW, updated_at=NOW))
    s.flush()


def _plan(cid: str) -> list[act.Action]:
    return [
        act.OpenCycle(key="c1", client_id=cid, category="Манікюр", anchor_visit_id="v1",
                      due_at=NOW + timedelta(days=21), period_days=21, task_key="t1",
                      service="Манікюр класичний", master="Олена"),
        act.OpenCycle(key="c2", client_id=cid, category="Брови", anchor_visit_id="v2",
                      due_at=NOW + timedelta(days=28), period_days=28, task_key="t2",
                      task_state=TaskState.CANCELLED_BY_BOOKING,
                      cancelled_by="b9", task_exists=False),
        act.OpenCycle(key="c3", client_id=cid, category="Педикюр", anchor_visit_id="v0",
                      due_at=NOW - timedelta(days=28), period_days=28, task_key="t0",
                      task_state=TaskState.CANCELLED_BY_BOOKING, cancelled_by="v1"),
        act.CloseCycle(key="c3x", client_id=cid, category="Педикюр", anchor_visit_id="v0",
                       reason="visit v1 completed in the same category"),
        act.OpenCycle(key="c4", client_id=cid, category="Брови", anchor_visit_id="h0",
                      due_at=NOW - timedelta(days=400), period_days=28, task_key="t9"),
        act.CloseCycle(key="c4x", client_id=cid, category="Брови", anchor_visit_id="h0",
                       reason="history: due 2025-01-30, long over at import"),
        act.CreateLead(key="l1", client_id=cid, pipeline=Pipeline.LOST, stage="reminder", name="Олена"),
        act.RecordLostStep(key="s1", client_id=cid, anchor_visit_id="v1", lead_key="l1", step=LostStep.REMINDER,
                           at=NOW - timedelta(days=3)),
        act.RecordLostStep(key="s2", client_id=cid, anchor_visit_id="v1", lead_key="l1", step=LostStep.PROMO,
                           at=NOW - timedelta(days=1)),
        act.SendMessage(key="m1", client_id=cid, template="welcome", language="uk", occasion="w", channels=("sms",)),
        act.SendMessage(key="m2", client_id=cid, template="promo", language="uk", occasion="p", channels=("sms",),
                        send_at=NOW + timedelta(hours=2), marketing=True),
        act.SendMessage(key="m3", client_id=cid, template="reminder_24h", language="uk", occasion="r",
                        channels=("sms",), send_at=NOW + timedelta(days=1)),
        act.RecordReconnectContact(key="r1", client_id=cid, campaign="spring", category="Манікюр", branch="900001",
                                   channels=("sms", "email"), last_visit="2026-01-10", days_late=12,
                                   contacted_at=NOW - timedelta(days=2), follow_up_at=NOW + timedelta(days=5)),
        act.RecordReconnectContact(key="r2", client_id=cid, campaign="spring", category="Брови", branch=None,
                                   channels=("sms",), last_visit="2026-01-11", days_late=3, contacted_at=NOW),
    ]


def test_the_snapshot_reads_back_every_kind_of_state_the_plan_wrote(services):
    with services.store.session() as s:
        client = _client(s)
        actions.record(s, "salon", None, client.id, _plan(str(client.id)), NOW)
    with services.store.session() as s:
        snap = playbook.snapshot_for(s, s.get(Client, client.id), None)
    assert [(c.category, c.due_at, c.period_days, c.task_state, c.task_exists, c.cancelled_by, c.service)
            for c in snap.cycles] == [
        ("Манікюр", NOW + timedelta(days=21), 21, TaskState.OPEN, True, None, "Манікюр класичний"),
        ("Брови", NOW + timedelta(days=28), 28, TaskState.CANCELLED_BY_BOOKING, False, "b9", None)]
    # closed cycles too (a booking inside one may be processed late); one closed as history had no task
    assert [(c.category, c.anchor_visit_id, c.task_state, c.cancelled_by, c.task_exists)
            for c in snap.closed_cycles] == [("Педикюр", "v0", TaskState.CANCELLED_BY_BOOKING, "v1", True),
                                             ("Брови", "h0", TaskState.OPEN, None, False)]
    assert [(lead.key, lead.pipeline, lead.stage, lead.manual) for lead in snap.leads] == [
        ("l1", Pipeline.LOST, "reminder", False)]
    assert (snap.lost.step, snap.lost.step_at, snap.lost.lead_key) == (LostStep.PROMO, NOW - timedelta(days=1), "l1")
    assert snap.client.welcome_sent
    assert snap.marketing_sent_at == (NOW + timedelta(hours=2),)
    assert [(r.key, r.channels, r.contacted_at, r.follow_up_at) for r in snap.reconnect] == [
        ("r1", ("sms", "email"), NOW - timedelta(days=2), NOW + timedelta(days=5))]  # r2 has no follow-up
    assert snap.applied == frozenset(a.key for a in _plan(str(client.id)))


def test_a_client_with_nothing_stored_has_an_empty_snapshot(services):
    with services.store.session() as s:
        snap = playbook.snapshot_for(s, _client(s), None)
    assert (snap.cycles, snap.leads, snap.lost, snap.reconnect, snap.marketing_sent_at) == ((), (), None, (), ())
    assert not snap.client.welcome_sent


def test_a_snapshot_costs_the_same_statements_after_one_visit_and_after_forty(services):
    counts = []
    for visits in (1, 40):
        with services.store.session() as s:
            client = _client(s) if visits == 1 else s.get(Client, counts[0][1])
            _visits(s, client, visits)
            seen: list[str] = []

            def count(conn, cursor, statement, *_, seen=seen):  # noqa: ANN001
                seen.append(statement)

            event.listen(services.store.engine, "before_cursor_execute", count)
            try:
                snap = playbook.snapshot_for(s, client, None, with_applied=False)
            finally:
                event.remove(services.store.engine, "before_cursor_execute", count)
            counts.append((len(seen), client.id, len(snap.client_visits)))
    assert [(n, v) for n, _, v in counts] == [(2, 1), (2, 41)]


def test_each_visit_comes_back_with_its_services_in_booking_order(services):
    with services.store.session() as s:
        client = _client(s)
        _visits(s, client, 3)
        first, second, bare = sorted(client.visits, key=lambda v: v.start_at)
        first.services = [VisitService(position=i, external_id=f"x{i}", title=t) for i, t in enumerate(("Б", "А", "В"))]
        second.services = [VisitService(position=0, external_id="y", title="Стрижка")]
        bare.services = []
        first.booked_at = NOW - timedelta(days=120)  # when the booking system says it was made
    with services.store.session() as s:
        snap = playbook.snapshot_for(s, s.get(Client, client.id), None)
    assert [v.services for v in snap.client_visits] == [("Б", "А", "В"), ("Стрижка",), ()]
    assert [v.booked_at for v in snap.client_visits] == [NOW - timedelta(days=120), None, None]


def test_a_snapshot_reads_only_the_clients_own_lines_on_a_store_never_analyzed(services):
    """Right after a bulk load PostgreSQL has no statistics; the snapshot must still not scan every line."""
    if services.store.engine.dialect.name != "postgresql":
        return
    visits = [dict(id=i, tenant="salon", source="yclients", external_id=f"b{i}", status="completed", start_at=NOW,
                   version=NOW, history=[], created_at=NOW, updated_at=NOW) for i in range(1, 20_001)]
    lines = [dict(visit_id=i, position=0, external_id="m", title="Манікюр", quantity=1) for i in range(1, 20_001)]
    with services.store.session() as s:
        s.execute(insert(Visit.__table__), visits)
        s.execute(insert(VisitService.__table__), lines)
    with services.store.engine.connect() as conn:
        sql = playbook._VISITS_PG.compile(conn)
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}".replace("%(client_id)s", "7")).scalars())
        jit = conn.exec_driver_sql("SHOW jit").scalar()
    assert "Seq Scan on visit_services" not in plan, plan
    assert jit == "off"  # nor compile a plan whose cost, estimated without statistics, looks large
