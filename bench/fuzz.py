"""Fuzz a running install from the outside: every inbound endpoint, hostile and broken requests, then wait
for the workers.

Starts ``python -m salonbridge run`` (gunicorn web, two workers, the clock; SQLite and the embedded Redis
in a temporary folder, or ``--database-url``) on a free port of 127.0.0.1, and sends generated requests
from a few connections to: the booking hooks (YCLIENTS and generic), the amoCRM hook, the OAuth callback,
the client page (page and forms, with valid links and CSRF values too), the payment callbacks (LiqPay
signed and unsigned, WayForPay), the dashboard signed out, plus raw abuse (malformed and 1,500-deep JSON,
NaN, chunked bodies over the limit, ``//`` paths, wrong content types, bytes that are not UTF-8). Bodies
are valid deliveries with up to three values replaced by hostile ones (lone surrogates, NUL, every
script, dates at the ends of the calendar, huge numbers, deep nesting), and one in ten repeats an earlier
request. Then it waits until the workers have taken every stored event to a final status (done, stale,
invalid) or ``--wait`` runs out.

Prints exactly ``fuzz 5xx=<n> accepted_not_done=<m> requests=<k>`` and exits 1 unless both counts are 0.
A request that got no answer at all counts as a 5xx; ``accepted_not_done`` counts stored events not in a
final status (every stored event was answered 2xx) plus 2xx answers naming an event that is not stored.
Details of each failure go to stderr. Runs on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET_KEY = "fuzz-secret-key-0123456789"
HOOK_TOKEN, AMO_TOKEN = "fuzz-hook-t0ken-0123456789", "fuzz-amo-hook-t0ken-012345"
LP_PUBLIC, LP_PRIVATE, WFP_SECRET = "sandbox_i0000000001", "sandbox_private_fuzz_key_0001", "wfp-fuzz-secret-0001"
TENANT = """slug: fuzz
name: Fuzz Salon
timezone: Europe/Kyiv
language: uk
currency: UAH
country: UA
branches:
  - {id: "111111", name: "Центр"}
  - {id: "111112", name: "Поділ"}
booking:
  source: yclients
  webhook_token_env: FUZZ_HOOK
amocrm:
  base_url: http://127.0.0.1:9
  webhook_token_env: FUZZ_AMO_HOOK
services:
  services:
    "3333": {category: Манікюр, periodicity_days: 21}
    "4444": {category: Педикюр, periodicity_days: 28}
prepayment:
  provider: liqpay
  liqpay: {public_key_env: FUZZ_LP_PUBLIC, private_key_env: FUZZ_LP_PRIVATE, signature: sha3-256,
           checkout_url: "http://127.0.0.1:9/api/3/checkout", api_url: "http://127.0.0.1:9/api/request"}
  wayforpay: {merchant_account: fuzz_salon, secret_key_env: FUZZ_WFP_SECRET, domain: salon.example,
              pay_url: "http://127.0.0.1:9/pay", api_url: "http://127.0.0.1:9/api"}
  amount: {fixed: 300}
  rules: [{name: all}]
"""
FINAL = ("done", "stale", "invalid")
HOSTILE_TEXT = ["\ud800", "a\udfffb", "\x00", "x\x00y", "", " ", "0", "-1", "1e309", "NaN", "я" * 300, "𝄞✓",
                "' OR 1=1 --", "<script>", "../../etc/passwd", "%00", "\u202e", "\r\n", "x" * 5000]
YEARS = [1, 2, 1899, 1900, 1901, 2026, 2031, 2032, 2099, 9998, 9999]
OFFSETS = ["", "Z", "+14:00", "-12:00", "+0300", "+02:00", "-05:00", "+23:59"]


class Gen:
    """Hostile values and requests, from one seeded ``random.Random``."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.serial = 0
        self.sent: list[tuple[str, str, dict[str, str], bytes | None]] = []

    # -- values --------------------------------------------------------------------------------------------

    def text(self) -> str:
        r = self.r
        if r.random() < 0.5:
            return r.choice(HOSTILE_TEXT)
        return "".join(chr(r.choice([r.randint(0, 0x7F), r.randint(0x80, 0xFFFF), r.randint(0x10000, 0x10FFFF)]))
                       for _ in range(r.randint(0, 20)))

    def date(self) -> str:
        r = self.r
        year = r.choice(YEARS) if r.random() < 0.7 else r.randint(1, 9999)
        return (f"{year:04d}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}{r.choice('T ')}"
                f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00{r.choice(OFFSETS)}")

    def number(self) -> Any:
        r = self.r
        return r.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**12, 86_400 * 366, 5400, 2**80, 1.5, -0.0,
                         1e308, r.randint(-(2**70), 2**70)])

    def nested(self, depth: int) -> Any:
        value: Any = 1
        for i in range(depth):
            value = [value] if i % 2 else {"k": value}
        return value

    def value(self, like: Any = None) -> Any:
        r = self.r
        if isinstance(like, str) and not isinstance(like, bool) and r.random() < 0.75:
            return self.date() if r.random() < 0.4 else self.text()
        if isinstance(like, int) and not isinstance(like, bool) and r.random() < 0.75:
            return self.number()
        return r.choice([self.text, self.date, self.number, lambda: None, lambda: r.random() < 0.5,
                         lambda: self.nested(r.randint(5, 600)), lambda: [self.text(), self.number()],
                         lambda: {self.text(): self.number()}])()

    def mutate(self, body: Any, times: int) -> Any:
        for _ in range(times):
            paths = _paths(body)
            if not paths:
                break
            path = self.r.choice(paths)
            parent = body
            for step in path[:-1]:
                parent = parent[step]
            key = path[-1]
            if isinstance(parent, dict) and self.r.random() < 0.1:
                key = self.text()
            parent[key] = self.value(parent.get(key) if isinstance(parent, dict) else parent[key])
        return body

    # -- bodies --------------------------------------------------------------------------------------------

    def yclients(self) -> dict[str, Any]:
        self.serial += 1
        rid, r = 500_000_000 + self.serial, self.r
        return {
            "company_id": r.choice([111111, 111112]), "resource": "record", "resource_id": rid,
            "status": r.choice(["create", "update", "delete"]),
            "data": {
                "id": rid, "company_id": 111111, "staff_id": 2222, "staff": {"id": 2222, "name": "Анна"},
                "services": [{"id": r.choice([3333, 4444]), "title": "Манікюр", "cost": 650, "amount": 1}],
                "client": {"id": 700000 + r.randint(0, 50), "name": "Ольга", "display_name": "Ольга",
                           "phone": f"+38067{r.randint(1000000, 9999999)}", "email": ""},
                "date": "2026-03-05 12:00:00", "datetime": "2026-03-05T12:00:00+02:00",
                "create_date": "2026-03-01T09:00:00+0200",
                "last_change_date": f"2026-03-01T09:{r.randint(0, 59):02d}:00+0200",
                "seance_length": 5400, "attendance": r.choice([-1, 0, 1, 2]), "deleted": False, "online": True,
                "visit_id": rid + 1,
            },
        }

    def generic(self) -> dict[str, Any]:
        self.serial += 1
        r = self.r
        body: dict[str, Any] = {
            "event_id": f"fz-{self.serial}", "occurred_at": "2026-03-01T09:00:00+02:00",
            "booking": {"id": f"g-{self.serial % 300}", "status": r.choice(["scheduled", "completed", "cancelled"]),
                        "start_at": "2026-03-05T12:00:00", "duration_min": 60,
                        "services": [{"id": "3333", "title": "Манікюр", "price": "650", "quantity": 1}]},
            "client": {"id": f"c-{r.randint(0, 50)}", "name": "Ольга", "phone": f"+38067{r.randint(1000000, 9999999)}",
                       "email": "olga@example.com", "birthday": "1990-05-01", "tags": ["vip"]},
        }
        if r.random() < 0.3:
            body["meta"] = {"note": self.value(), "deep": self.nested(r.randint(1, 40))}
        return body

    def amocrm_form(self) -> str:
        r = self.r
        fields: list[tuple[str, str]] = []
        if r.random() < 0.6:
            fields += [("leads[status][0][id]", str(r.randint(1, 10**9))), ("leads[status][0][status_id]", "142"),
                       ("leads[status][0][pipeline_id]", "788512"), ("leads[status][0][modified_user_id]", "1760815"),
                       ("leads[status][0][last_modified]", str(1_700_000_000 + r.randint(0, 10**6)))]
        if r.random() < 0.6:
            fields += [("task[update][0][id]", str(r.randint(1, 10**9))), ("task[update][0][status]", "1"),
                       ("task[update][0][action_close]", "1"),
                       ("task[update][0][updated_at]", str(1_700_000_000 + r.randint(0, 10**6))),
                       ("task[update][0][result][text]", "Клієнтка записалась")]
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            i = r.randrange(len(fields)) if fields else None
            if i is not None and r.random() < 0.6:
                fields[i] = (fields[i][0], r.choice([self.text(), "null", "1.5", " ", "1e5", "-3", "0x10"]))
            else:
                fields.append((r.choice(["a[b]", "leads[status][0][id]", "x" + "[y]" * r.randint(1, 12), self.text()]),
                               self.text()))
        raw = urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                         for k, v in fields])
        roll = r.random()
        if roll < 0.05:
            raw = "&".join(["a[b]=1"] * r.choice([2, 5000]))
        elif roll < 0.08:
            raw += "&bad=%ff%fe%ed%a0%80"
        elif roll < 0.1:
            raw = "&".join(f"f{i}=1" for i in range(10_001))
        return raw

    # -- requests ------------------------------------------------------------------------------------------

    def request(self) -> tuple[str, str, dict[str, str], bytes | None]:
        r = self.r
        if self.sent and r.random() < 0.1:
            return r.choice(self.sent)
        roll = r.random()
        if roll < 0.28:
            req = self._json_hook("yclients", self.mutate(self.yclients(), r.choice([0, 1, 1, 2, 3])))
        elif roll < 0.56:
            req = self._json_hook("generic", self.mutate(self.generic(), r.choice([0, 1, 1, 2, 3])))
        elif roll < 0.70:
            req = ("POST", f"/hooks/fuzz/amocrm/{AMO_TOKEN}",
                   {"Content-Type": "application/x-www-form-urlencoded"}, self.amocrm_form().encode())
        elif roll < 0.77:
            req = ("GET", f"/oauth/{self._segment('fuzz')}/callback?state={self._q()}&code={self._q()}"
                   + ("&error=access_denied" if r.random() < 0.1 else ""), {}, None)
        elif roll < 0.85:
            req = self._client_page()
        elif roll < 0.91:
            req = self._payment()
        elif roll < 0.93:
            req = self._dashboard()
        else:
            req = self._abuse()
        self.sent.append(req)
        return req

    def _json_hook(self, source: str, body: Any) -> tuple[str, str, dict[str, str], bytes]:
        raw = _dumps(body, ascii=self.r.random() < 0.8)
        return "POST", f"/hooks/fuzz/{source}/{HOOK_TOKEN}", {"Content-Type": "application/json"}, raw

    def _q(self) -> str:
        return quote(self.text().encode("utf-8", "surrogatepass"), safe="")

    def _segment(self, real: str) -> str:
        return real if self.r.random() < 0.8 else self._q() or "x"

    def _client_page(self) -> tuple[str, str, dict[str, str], bytes | None]:
        """Garbage tokens, and valid links (of clients that may or may not exist yet, some expired) with
        and without their form's CSRF value."""
        from datetime import UTC, datetime, timedelta

        from bridge.messaging.links import sign_client_link
        from webhooks.client_page import PURPOSE, csrf_token

        r = self.r
        valid = r.random() < 0.6
        if valid:
            expires = datetime.now(UTC) + timedelta(days=r.choice([30, 30, 30, -1]))
            token = sign_client_link(SECRET_KEY, "fuzz", str(r.randint(1, 120)), PURPOSE, expires)
        else:
            token = r.choice([self._q() or "x", base64.urlsafe_b64encode(r.randbytes(32)).decode().rstrip("="),
                              "v1." + "A" * r.randint(1, 300)])
        if r.random() < 0.4:
            return "GET", f"/c/{token}", {}, None
        action = r.choice(["feedback", "opt-out", "opt-in"])
        csrf = csrf_token(SECRET_KEY, token, action) if valid and r.random() < 0.8 else self.text()
        form = urlencode({"text": (self.text() if r.random() < 0.7 else "Дякую!").encode("utf-8", "surrogatepass"),
                          "csrf": csrf.encode("utf-8", "surrogatepass")})
        return "POST", f"/c/{token}/{action}", {"Content-Type": "application/x-www-form-urlencoded"}, form.encode()

    def _payment(self) -> tuple[str, str, dict[str, str], bytes]:
        from bridge.payments.liqpay import sign

        r = self.r
        if r.random() < 0.6:
            payload = self.mutate({"public_key": LP_PUBLIC, "order_id": f"sb-fuzz-{r.randint(1, 500)}",
                                   "status": r.choice(["success", "failure", "reversed", "wait_accept"]),
                                   "amount": 300, "currency": "UAH", "payment_id": r.randint(1, 10**9),
                                   "action": "pay", "end_date": 1_700_000_000_000}, r.choice([0, 1, 2]))
            data = base64.b64encode(_dumps(payload)).decode()
            signature = sign(LP_PRIVATE, data, "sha3-256") if r.random() < 0.7 else self.text()
            body = urlencode({"data": data, "signature": signature.encode("utf-8", "surrogatepass")}).encode()
            return "POST", "/hooks/fuzz/pay/liqpay", {"Content-Type": "application/x-www-form-urlencoded"}, body
        payload = self.mutate({"merchantAccount": "fuzz_salon", "orderReference": f"sb-fuzz-{r.randint(1, 500)}",
                               "amount": 300, "currency": "UAH", "transactionStatus": "Approved",
                               "merchantSignature": "x"}, r.choice([0, 1, 2]))
        return ("POST", "/hooks/fuzz/pay/wayforpay", {"Content-Type": r.choice(["application/json",
                "application/x-www-form-urlencoded"])}, _dumps(payload))

    def _dashboard(self) -> tuple[str, str, dict[str, str], bytes | None]:
        """Signed out: pages, the login form (with and without its CSRF field), the language switch."""
        r = self.r
        form = {"username": self.text(), "password": self.text(), "next": r.choice([self.text(), "//evil.example",
                                                                                     "/t/fuzz/"]),
                "language": self.text(), "csrf_token": self.text()}
        body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in form.items()}).encode()
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        return r.choice([
            lambda: ("GET", f"/?next={self._q()}", {}, None),
            lambda: ("GET", f"/login?next={self._q()}", {}, None),
            lambda: ("POST", "/login", form_type, body),
            lambda: ("POST", "/language", form_type, body),
            lambda: ("GET", f"/t/{self._segment('fuzz')}/playbook", {}, None),
            lambda: ("POST", f"/t/fuzz/jobs/{self._q() or 'x'}/retry", form_type, body),
        ])()

    def _abuse(self) -> tuple[str, str, dict[str, str], bytes | None]:
        r = self.r
        hook = f"/hooks/fuzz/{r.choice(['yclients', 'generic'])}/{HOOK_TOKEN}"
        json_type = {"Content-Type": "application/json"}
        return r.choice([
            lambda: ("POST", hook, json_type, b'{"a":' * 1500 + b"1" + b"}" * 1500),
            lambda: ("POST", hook, json_type, b"[" * 100_000 + b"]" * 100_000),
            lambda: ("POST", hook, json_type, b'{"company_id": NaN, "x": Infinity}'),
            lambda: ("POST", hook, json_type, b'{"n": 1' + b"0" * 5000 + b"}"),
            lambda: ("POST", hook, json_type, b'{"company_id": 1,'),
            lambda: ("POST", hook, json_type, r.randbytes(r.randint(0, 2000))),
            lambda: ("POST", hook, {"Content-Type": "text/plain"}, b"{}"),
            lambda: ("POST", hook.replace("/hooks/", "/hooks//"), json_type, b"{}"),
            lambda: ("POST", hook + "/", json_type, b"{}"),
            lambda: ("POST", hook, {**json_type, "X-Chunked": "1"}, b"{" + b" " * (1024 * 1024 + 100) + b"}"),
            lambda: ("POST", hook, json_type, b"\"" + b"x" * (1024 * 1024 + 10) + b"\""),
            lambda: ("GET", f"/hooks/fuzz/yclients/{HOOK_TOKEN}", {}, None),
            lambda: ("GET", "/" + self._q(), {}, None),
        ])()


def _dumps(value: Any, ascii: bool = True) -> bytes:
    """JSON bytes as a sender would post them; mutations nested into each other can go deeper than
    Python's encoder recurses, and then the body is that depth written out."""
    try:
        return json.dumps(value, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    except RecursionError:
        return b'{"a":' * 1200 + b"1" + b"}" * 1200


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


def _kind(path: str) -> str:
    parts = path.split("?")[0].split("/")
    if path.startswith("/hooks/") and len(parts) > 3:
        return f"/hooks/{parts[3][:12]}"
    return "/" + (parts[1][:12] if len(parts) > 1 else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port: int, requests: list[tuple[str, str, dict[str, str], bytes | None]], results: list) -> None:
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    for method, path, shared_headers, body in requests:
        headers = dict(shared_headers)
        chunked = headers.pop("X-Chunked", None)
        began = time.perf_counter()
        try:
            if chunked:
                conn.request(method, path, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                             headers={**headers, "Transfer-Encoding": "chunked"}, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            results.append((method, path, response.status, text[:300], time.perf_counter() - began))
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, HTTPException) as exc:
            results.append((method, path, 0, repr(exc).encode(), time.perf_counter() - began))
            conn.close()
            conn = HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("salonbridge run exited before answering")
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("salonbridge run did not become healthy")


def statuses(database_url: str) -> Counter:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM inbound_events GROUP BY status"))
            return Counter({status: n for status, n in rows})
    finally:
        engine.dispose()


def _sql(database_url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def stored_ids(database_url: str) -> set[int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(text("SELECT id FROM inbound_events")))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5,000 requests, a minute of waiting at most (CI)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="e.g. postgresql://…/db (default: SQLite in a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its log) and say where")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.wait = 5000, 60

    from config.settings import Settings

    gen = Gen(args.seed)
    requests = [gen.request() for _ in range(args.requests)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    (tmp / "tenants").mkdir()
    (tmp / "tenants" / "fuzz.yaml").write_text(TENANT, encoding="utf-8")
    port = free_port()
    env = {**os.environ, "SALONBRIDGE_INSTANCE": str(tmp / "instance"), "SALONBRIDGE_TENANTS": str(tmp / "tenants"),
           "SALONBRIDGE_LOG_LEVEL": "WARNING", "SECRET_KEY": SECRET_KEY,
           "FUZZ_HOOK": HOOK_TOKEN, "FUZZ_AMO_HOOK": AMO_TOKEN, "FUZZ_LP_PUBLIC": LP_PUBLIC,
           "FUZZ_LP_PRIVATE": LP_PRIVATE, "FUZZ_WFP_SECRET": WFP_SECRET, "SALONBRIDGE_SWEEP_AFTER_S": "2"}
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    schema = None
    if args.database_url:  # PostgreSQL: a scratch schema, dropped afterwards
        schema = f"fuzz_{os.urandom(6).hex()}"
        base = Settings.from_env({**env, "DATABASE_URL": args.database_url}).database_url
        _sql(base, f'CREATE SCHEMA "{schema}"')
        env["DATABASE_URL"] = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    database_url = Settings.from_env(env).database_url
    log = open(tmp / "run.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "salonbridge", "run", "--bind", f"127.0.0.1:{port}",
                             "--workers", "2"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    results: list = []
    try:
        wait_healthy(port, proc)
        started = time.monotonic()
        threads = [threading.Thread(target=send, args=(port, requests[i::args.connections], results))
                   for i in range(args.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent_s = time.monotonic() - started
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            counts = statuses(database_url)
            if not any(n for status, n in counts.items() if status not in FINAL) or proc.poll() is not None:
                break
            time.sleep(1)
        counts = statuses(database_url)
        ids = stored_ids(database_url)
        sent_s = (sent_s, time.monotonic() - started - sent_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        if schema:
            _sql(base, f'DROP SCHEMA "{schema}" CASCADE')

    sys.exit(report(results, counts, ids, sent_s, tmp, args.keep))


def report(results: list, counts: Counter, ids: set[int], took: tuple[float, float], tmp: Path, keep: bool) -> int:
    """Print the figures (details to stderr); the exit code."""
    by_status = Counter(r[2] for r in results)
    slow = Counter()
    for method, path, *_, seconds in results:
        slow[f"{method} {_kind(path)}"] += seconds
    failures = [r for r in results if r[2] >= 500 or r[2] == 0]
    answered_ids = set()
    for _, path, status, text, _ in results:
        if 200 <= status < 300 and path.startswith("/hooks/fuzz/") and "/pay/" not in path:
            try:
                event_id = json.loads(text).get("event_id")
            except ValueError:
                event_id = None
            if isinstance(event_id, int):
                answered_ids.add(event_id)
    lost = answered_ids - ids
    open_events = sum(n for status, n in counts.items() if status not in FINAL)
    for method, path, status, text, _ in failures[:20]:
        shown = path.replace(HOOK_TOKEN, "<token>").replace(AMO_TOKEN, "<token>")[:120]
        print(f"  {status or 'no answer'} {method} {shown}: {text[:200]!r}", file=sys.stderr)
    print(f"answers {dict(sorted(by_status.items()))}; events {dict(sorted(counts.items()))}; "
          f"sent in {took[0]:.1f} s, workers done {took[1]:.1f} s later; lost {len(lost)}", file=sys.stderr)
    print("seconds by endpoint: " + ", ".join(f"{k} {v:.1f}" for k, v in slow.most_common(8)), file=sys.stderr)
    if keep or failures or open_events or lost:
        print(f"log and database kept in {tmp}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    sys.stderr.flush()
    print(f"fuzz 5xx={len(failures)} accepted_not_done={open_events + len(lost)} requests={len(results)}")
    return 1 if failures or open_events or lost else 0


if __name__ == "__main__":
    main()
