"""One worker's throughput on booking events, against an empty RQ job in the same run.

A synthetic salon's YCLIENTS deliveries are stored through the real intake (not timed), then one
in-process worker processes them with amoCRM sync off (the clock is not running); beside it the same
worker runs empty RQ jobs, so the ratio says how much of a job is ours and how much is RQ's.

Prints ``events_per_s=… empty_job_per_s=… ratio=… statements_per_event=… statements_max=…``, then
the statements per event by the client's number of earlier visits (``few`` up to 4, ``many`` 15 or
more), the Redis commands per event job against those of an empty job, and the CPU time per job (this
process plus the Redis server; PostgreSQL's own is not counted) with its ``cpu_ratio``: the same ratio
measured in CPU time, which says far less about the machine's other load than the wall-clock one.
Goals: ratio >= 0.5; statements per event <= 15, independent of a client's number of past visits
(``statements_max`` is the most any one event cost). SQL statements are counted as the database
driver executes them (transaction BEGIN/COMMIT not included); Redis commands as the server counts them
(``INFO commandstats``). ``--database`` runs on another database (a PostgreSQL URL; its tables are
created and dropped in a schema of their own). Runs on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
PG_URL = os.environ.get("SALONBRIDGE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


FEW, MANY = 4, 15  # earlier visits of the event's client: "few" up to FEW, "many" MANY or more


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--empty-jobs", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true",
                        help="run on PostgreSQL at 127.0.0.1:5432 (database test, a schema of its own)")
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of the events' run to FILE (read it with python -m pstats)")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.empty_jobs = 15, 300
    database = postgres_schema_url() if args.postgres else None
    if args.postgres and database is None:
        sys.exit("PostgreSQL does not answer on 127.0.0.1:5432")
    try:
        run(args, database[0] if database else None)
    finally:
        if database:
            database[1]()


def run(args: argparse.Namespace, database_url: str | None) -> None:
    from sqlalchemy import event

    from bridge import intake
    from bridge.services import Services
    from bridge.store import stats
    from config.logging import configure_logging
    from config.settings import Settings
    from jobs import context
    from jobs.worker import run_worker
    from salonbridge import synthetic

    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        folder = Path(tmp)
        (folder / "tenants").mkdir()
        (folder / "tenants" / "bench.yaml").write_text(
            synthetic.tenant_yaml("bench", "BENCH_HOOK", "http://127.0.0.1:9", "BENCH_AMO"), encoding="utf-8")
        os.environ.update(BENCH_HOOK="x" * 24, BENCH_AMO="not-used")
        env = {**os.environ, "SALONBRIDGE_INSTANCE": str(folder / "instance"),
               "SALONBRIDGE_TENANTS": str(folder / "tenants"), "SALONBRIDGE_LOG_LEVEL": "WARNING"}
        env.pop("REDIS_URL", None)  # the embedded Redis: its command counts are this run's alone
        if database_url:
            env["DATABASE_URL"] = database_url
        settings = Settings.from_env(env)
        configure_logging(settings)  # RQ as quiet as in a salonbridge process
        svc = Services.build(settings, migrate=True)
        context.install(svc)
        try:
            for _ in range(args.empty_jobs):
                svc.queue.rq.enqueue(len, [1], result_ttl=0)
            commands = redis_commands(svc.queue.connection)
            cpu = cpu_seconds(svc.queue.connection)
            started = time.perf_counter()
            run_worker(svc, burst=True)
            empty_per_s = args.empty_jobs / (time.perf_counter() - started)
            empty_cpu_s = (cpu_seconds(svc.queue.connection) - cpu) / args.empty_jobs
            empty_commands = (redis_commands(svc.queue.connection) - commands) / args.empty_jobs

            now = datetime.now(UTC)
            tenant = svc.tenants["bench"]
            for body in synthetic.generate(seed=7, clients=args.clients):
                intake.receive(svc.store, svc.queue, tenant, "yclients", body, now)
            events = svc.queue.depth()

            per_job: list[tuple[int, int]] = []  # (statements, event id)
            current = {"n": 0, "on": False}

            @event.listens_for(svc.store.engine, "before_cursor_execute")
            def count(conn, cursor, statement, *_):  # noqa: ANN001
                if current["on"] and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                    current["n"] += 1

            from jobs import process_event as pe

            original = pe.handle_event

            def counted(svc_, event_id, now_):  # noqa: ANN001
                current["n"], current["on"] = 0, True
                try:
                    return original(svc_, event_id, now_)
                finally:
                    current["on"] = False
                    per_job.append((current["n"], event_id))

            pe.handle_event = counted
            commands = redis_commands(svc.queue.connection)
            profiler = cProfile.Profile() if args.profile else None
            cpu = cpu_seconds(svc.queue.connection)
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            run_worker(svc, burst=True)
            if profiler:
                profiler.disable()
            took = time.perf_counter() - started
            event_cpu_s = (cpu_seconds(svc.queue.connection) - cpu) / max(1, events)
            if profiler:
                profiler.dump_stats(args.profile)
            event_commands = (redis_commands(svc.queue.connection) - commands) / max(1, events)
            pe.handle_event = original
            done = stats.events_by_status(svc.store)
            earlier = earlier_visits(svc.store)
            per_job = [(n, earlier.get(event_id, 0)) for n, event_id in per_job]
        finally:
            svc.close()
    events_per_s = events / took
    statements = [n for n, _ in per_job]
    few = [n for n, visits in per_job if visits <= FEW]
    many = [n for n, visits in per_job if visits >= MANY]
    print(f"events={events} done={done} clients={args.clients} "
          f"database={'postgresql' if database_url else 'sqlite'}")
    print(f"events_per_s={events_per_s:.1f} empty_job_per_s={empty_per_s:.1f} ratio={events_per_s / empty_per_s:.2f} "
          f"statements_per_event={mean(statements):.1f} statements_max={max(statements or [0])}")
    print(f"statements_few_visits={mean(few):.1f} (events={len(few)}, <={FEW} earlier visits) "
          f"statements_many_visits={mean(many):.1f} (events={len(many)}, >={MANY}) "
          f"max_few={max(few or [0])} max_many={max(many or [0])}")
    print(f"redis_commands_per_event={event_commands:.1f} redis_commands_per_empty_job={empty_commands:.1f}")
    print(f"cpu_ms_per_event={event_cpu_s * 1000:.2f} cpu_ms_per_empty_job={empty_cpu_s * 1000:.2f} "
          f"cpu_ratio={empty_cpu_s / event_cpu_s if event_cpu_s else 0:.2f}")


def earlier_visits(store) -> dict[int, int]:  # noqa: ANN001
    """For each booking event: how many visits its client had before it was processed (read afterwards)."""
    from sqlalchemy import select

    from bridge.store.models import InboundEvent, Visit

    with store.session() as s:
        client_of, created = {}, {}
        for external_id, client_id, created_at in s.execute(select(Visit.external_id, Visit.client_id,
                                                                   Visit.created_at)):
            client_of[external_id] = client_id
            created.setdefault(client_id, []).append(created_at)
        counts = {}
        for event_id, payload, processed_at in s.execute(select(InboundEvent.id, InboundEvent.payload,
                                                                InboundEvent.processed_at)):
            client = client_of.get(str((payload or {}).get("booking", {}).get("external_id")))
            counts[event_id] = sum(1 for at in created.get(client, ()) if at < processed_at)
        return counts


def mean(values: list[int]) -> float:
    return sum(values) / max(1, len(values))


def cpu_seconds(connection) -> float:  # noqa: ANN001
    """CPU time used so far by this process (the worker runs in it) and by the Redis server: the ratio of
    these per job depends far less on what else the machine runs than the wall-clock rates do."""
    own = time.process_time()
    try:
        pid = int(connection.info("server")["process_id"])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, KeyError, ValueError, IndexError):
        return own


def redis_commands(connection) -> int:  # noqa: ANN001
    """Every command the Redis server has run so far (all of its clients)."""
    return sum(int(stats["calls"]) for stats in connection.info("commandstats").values())


def postgres_schema_url() -> tuple[str, Callable[[], None]] | None:
    """A URL on a fresh schema of the local PostgreSQL, and how to drop it; None when it does not answer."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.3).close()
    except OSError:
        return None
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


if __name__ == "__main__":
    main()
