"""The test tenant connected to an amoCRM sandbox served over real HTTP, provisioned by setup."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from amocrm_sandbox import create_sandbox_app
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve


@contextmanager
def connected_salon(settings, tmp_path, monkeypatch, *, amocrm_extra: str = "", tenant_extra: str = "",
                    booking_extra: str = "", **sandbox: Any) -> Iterator[tuple[Services, str]]:
    """Yield the services of the test tenant ("salon") whose amoCRM is a fresh, provisioned sandbox
    (``amocrm_extra``: more lines of its ``amocrm:`` section, ``booking_extra`` of its ``booking:`` section;
    ``tenant_extra``: more top-level sections)."""
    with serve(create_sandbox_app(tmp_path / "sandbox.json", **sandbox)) as base_url:
        token = requests.post(f"{base_url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
        monkeypatch.setenv("SALON_AMO_TOKEN", token["access_token"])
        text = TENANT_YAML.replace(
            "  base_url: http://127.0.0.1:9\n",
            f"  base_url: {base_url}\n  long_lived_token_env: SALON_AMO_TOKEN\n{amocrm_extra}",
        ).replace("booking:\n  source: yclients\n", f"booking:\n  source: yclients\n{booking_extra}") + tenant_extra
        (settings.tenants_dir / "salon.yaml").write_text(text, encoding="utf-8")
        svc = Services.build(settings, migrate=True)
        run_setup(svc.tenants["salon"], svc)
        try:
            yield svc, base_url
        finally:
            svc.close()
