"""A small SMS gateway for tests: a real Flask app (serve it with ``tests.fakes.http.serve``).

``POST /api/send`` with ``Authorization: Bearer <token>`` records the JSON body and answers
``{"data": {"message_id": "sms-N"}}``. ``fail(500, 400, ...)`` makes the next requests fail with those
statuses (the error body echoes the phone, like real gateways do); ``delay_s`` slows every answer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request


@dataclass
class FakeSmsGateway:
    token: str = "sms-token-0123456789"
    messages: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        """Forget everything, so one served gateway can be shared by a module's tests."""
        with self._lock:
            self.messages.clear()
            self.headers.clear()
            self.failures.clear()
            self.delay_s, self.attempts = 0.0, 0

    def fail(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    def app(self) -> Flask:
        app = Flask("fake_sms")

        @app.post("/api/send")
        def send():  # type: ignore[no-untyped-def]
            if self.delay_s:
                time.sleep(self.delay_s)
            body = request.get_json(silent=True) or {}
            with self._lock:
                self.attempts += 1
                status = self.failures.pop(0) if self.failures else None
                if request.headers.get("Authorization") != f"Bearer {self.token}":
                    return jsonify({"error": "unauthorized"}), 401
                if status is not None:
                    return jsonify({"error": f"cannot deliver to {body.get('phone')}"}), status
                self.messages.append(body)
                self.headers.append(dict(request.headers))
                return jsonify({"data": {"message_id": f"sms-{len(self.messages)}"}})

        return app
