"""One worker's throughput on booking events, against an empty RQ job in the same run.

A synthetic salon's YCLIENTS deliveries are stored through the real intake (not timed), then one
in-process worker processes them with amoCRM sync off (the clock is not running); beside it the same
worker runs empty RQ jobs, so the ratio says how much of a job is ours and how much is RQ's.

Prints ``events_per_s=… empty_job_per_s=… ratio=… statements_per_event=… statements_max=…``.
Goals: ratio >= 0.5; statements per event <= 15, independent of a client's number of past visits
(``statements_max`` is the most any one event cost). SQL statements are counted as the database
driver executes them (transaction BEGIN/COMMIT not included). Runs on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--empty-jobs", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="a small run for CI")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.empty_jobs = 15, 300

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
        settings = Settings.from_env({**os.environ, "SALONBRIDGE_INSTANCE": str(folder / "instance"),
                                      "SALONBRIDGE_TENANTS": str(folder / "tenants"),
                                      "SALONBRIDGE_LOG_LEVEL": "WARNING"})
        configure_logging(settings)  # RQ as quiet as in a salonbridge process
        svc = Services.build(settings, migrate=True)
        context.install(svc)
        try:
            for _ in range(args.empty_jobs):
                svc.queue.rq.enqueue(len, [1], result_ttl=0)
            started = time.perf_counter()
            run_worker(svc, burst=True)
            empty_per_s = args.empty_jobs / (time.perf_counter() - started)

            now = datetime.now(UTC)
            tenant = svc.tenants["bench"]
            for body in synthetic.generate(seed=7, clients=args.clients):
                intake.receive(svc.store, svc.queue, tenant, "yclients", body, now)
            events = svc.queue.depth()

            per_job: list[int] = []
            current = {"n": 0}

            @event.listens_for(svc.store.engine, "before_cursor_execute")
            def count(conn, cursor, statement, *_):  # noqa: ANN001
                if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                    current["n"] += 1

            from jobs import process_event as pe

            original = pe.handle_event

            def counted(svc_, event_id, now_):  # noqa: ANN001
                current["n"] = 0
                try:
                    return original(svc_, event_id, now_)
                finally:
                    per_job.append(current["n"])

            pe.handle_event = counted
            started = time.perf_counter()
            run_worker(svc, burst=True)
            took = time.perf_counter() - started
            pe.handle_event = original
            done = stats.events_by_status(svc.store)
        finally:
            svc.close()
    events_per_s = events / took
    print(f"events={events} done={done} clients={args.clients}")
    print(f"events_per_s={events_per_s:.1f} empty_job_per_s={empty_per_s:.1f} ratio={events_per_s / empty_per_s:.2f} "
          f"statements_per_event={sum(per_job) / max(1, len(per_job)):.1f} statements_max={max(per_job or [0])}")


if __name__ == "__main__":
    main()
