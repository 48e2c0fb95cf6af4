"""An install as production runs it, for the chaos suite: ``salonbridge run`` (gunicorn web, RQ workers,
the clock as real processes) on its own SQLite file and its own redis-server, connected by OAuth to an
amoCRM sandbox served over HTTP, provisioned by ``setup`` before the processes start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

from amocrm_sandbox import create_sandbox_app
from amocrm_sandbox.options import SandboxOptions
from bridge.amocrm.connect import token_store
from bridge.amocrm.oauth import TokenResponse
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from bridge.store import crm_queue, stats
from bridge.store.models import MessageRow
from config.settings import Settings
from jobs.messages import CONTACT_WAIT
from salonbridge import synthetic
from salonbridge.demo import free_port
from salonbridge.report import due_messages
from tests.fakes.http import serve
from tests.processes import children, salonbridge_run, start_redis, stop_redis

SLUG = "salon"
HOOK_TOKEN = "chaos-hook-t0ken-0123456789"
FINAL = ("done", "stale", "invalid")


@dataclass
class Install:
    """One running install and the handles a chaos run pulls on."""

    name: str
    folder: Path
    env: dict[str, str]
    amocrm: str  # the sandbox's base URL
    redis_port: int
    redis: subprocess.Popen
    svc: Services
    log: Path
    base: str = ""
    run: subprocess.Popen | None = None

    @property
    def hook(self) -> str:
        return f"{self.base}/hooks/{SLUG}/yclients/{HOOK_TOKEN}"

    def processes(self, kind: str) -> list[int]:
        """Pids of the run's children whose command line ends with ``kind`` ("worker", "clock") or names
        gunicorn ("web")."""
        assert self.run is not None
        found = children(self.run)
        if kind == "web":
            return [pid for pid, args in found.items() if "gunicorn" in args]
        return [pid for pid, args in found.items() if args.endswith(f"salonbridge {kind}")]

    def hold_clock(self, held: bool) -> None:
        """Freeze (SIGSTOP) or thaw (SIGCONT) the clock. While the webhooks of a compressed year arrive, a
        running clock would send a booking's confirmation or not depending on whether its completion had
        arrived yet; held, it decides once every event is in, alike in both runs."""
        for pid in self.processes("clock"):
            os.kill(pid, signal.SIGSTOP if held else signal.SIGCONT)

    def stop_redis(self) -> None:
        stop_redis(self.redis)

    def start_redis(self) -> None:
        self.redis = start_redis(self.redis_port, self.folder)

    def pending(self) -> dict[str, int]:
        return pending(self.svc)

    def settle(self, timeout_s: float, quiet_s: float = 3.0) -> float:
        """Seconds until nothing is owed, twice ``quiet_s`` apart (the clock may find more); raises on timeout."""
        started = time.monotonic()
        while True:
            if not self.pending():
                time.sleep(quiet_s)
                if not self.pending():
                    return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"{self.name}: still owed after {timeout_s:.0f} s: {self.pending()}")
            time.sleep(0.5)


def held_for_contact(svc: Services) -> int:
    """Messages put back a moment because the client's amoCRM contact was still to be created: owed too,
    though not yet due (the contact comes with the amoCRM work that is still owed or just done)."""
    with svc.store.session() as s:
        return s.scalar(select(func.count()).select_from(MessageRow).where(
            MessageRow.tenant == SLUG, MessageRow.state == "scheduled",
            MessageRow.send_at <= datetime.now(UTC) + CONTACT_WAIT + timedelta(seconds=5))) or 0


def pending(svc: Services) -> dict[str, int]:
    """What an install still owes: events not final, amoCRM actions, due messages, queued jobs."""
    by_status = stats.events_by_status(svc.store)
    owed = {"events": sum(n for status, n in by_status.items() if status not in FINAL),
            "amocrm": len(crm_queue.backlog(svc.store)),
            "messages": due_messages(svc, SLUG) + held_for_contact(svc)}
    try:
        owed["queued"] = svc.queue.depth()
    except Exception:  # Redis away: the store says the rest
        owed["queued"] = -1
    return {k: v for k, v in owed.items() if v}


def connect_amocrm(svc: Services, amocrm: str) -> None:
    """Store an OAuth pair the sandbox issued and run ``setup`` (pipelines, fields) for the salon."""
    pair = requests.post(f"{amocrm}/_sandbox/tokens", json={"action": "pair"}, timeout=5).json()
    token_store(svc).save_authorized(SLUG, TokenResponse(pair["access_token"], pair["refresh_token"],
                                                         datetime.now(UTC) + timedelta(hours=23)))
    run_setup(svc.tenants[SLUG], svc)


def tenant_file(amocrm_url: str) -> str:
    """The synthetic salon's tenant file, connected by OAuth (client id and secret) instead of a
    long-lived token, so access tokens expire and refresh tokens rotate."""
    text = synthetic.tenant_yaml(SLUG, "CHAOS_HOOK", amocrm_url, "UNUSED")
    return text.replace("  long_lived_token_env: UNUSED\n",
                        "  client_id_env: CHAOS_AMO_CLIENT_ID\n  client_secret_env: CHAOS_AMO_SECRET\n")


@contextmanager
def install(name: str, folder: Path) -> Iterator[Install]:
    """Start the sandbox and redis-server, write the tenant, store an OAuth pair, run ``setup``, then
    ``salonbridge run``; stop everything however the block ends."""
    folder.mkdir(parents=True)
    web_port, redis_port = free_port(), free_port()
    public = f"http://127.0.0.1:{web_port}"
    options = SandboxOptions(redirect_uri=f"{public}/oauth/{SLUG}/callback", block_after_429s=20)
    with ExitStack() as stack:
        amocrm = stack.enter_context(serve(create_sandbox_app(None, options=options)))
        redis = start_redis(redis_port, folder)
        tenants = folder / "tenants"
        tenants.mkdir()
        (tenants / f"{SLUG}.yaml").write_text(tenant_file(amocrm), encoding="utf-8")
        env = {
            **os.environ,
            "SALONBRIDGE_INSTANCE": str(folder / "instance"),
            "DATABASE_URL": f"sqlite:///{folder / 'salonbridge.db'}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "SALONBRIDGE_TENANTS": str(tenants),
            "SALONBRIDGE_SWEEP_AFTER_S": "1",
            "SALONBRIDGE_ACCESS_LOG": "1",
            "SALONBRIDGE_LOG_LEVEL": "INFO",
            "SALONBRIDGE_PUBLIC_URL": public,
            "SECRET_KEY": f"chaos-secret-key-{name}-0123456789",
            "CHAOS_HOOK": HOOK_TOKEN,
            "CHAOS_AMO_CLIENT_ID": options.client_id,
            "CHAOS_AMO_SECRET": options.client_secret,
        }
        env.pop("SALONBRIDGE_LOG_JSON", None)
        svc = Services.build(Settings.from_env(env), migrate=True)
        it = Install(name, folder, env, amocrm, redis_port, redis, svc, folder / "run.log")
        stack.callback(lambda: stop_redis(it.redis))
        stack.callback(svc.close)
        connect_amocrm(svc, amocrm)
        it.run, it.base = stack.enter_context(salonbridge_run(env, it.log, port=web_port))
        yield it
