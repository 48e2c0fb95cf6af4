"""Schemathesis against /api/openapi.json: every inbound operation (booking and amoCRM hooks, payment
callbacks, the client page and its forms, the OAuth callback, the JSON API) gets requests generated from the
document itself, valid and invalid (negative mode), with the real tenant and tokens half of the time so the
requests get past the 404 of an unknown tenant. No answer may be a 5xx, and every answer's status must be one
the document lists for that operation.

``SALONBRIDGE_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 10, seconds a backend;
the figures in docs/reliability.md were measured with 500)."""

from __future__ import annotations

import os
from collections import Counter

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import status_code_conformance

from bridge.services import Services
from tests.conftest import TENANT_YAML, TOKEN
from webhooks.app import create_app

EXAMPLES = int(os.environ.get("SALONBRIDGE_FUZZ_EXAMPLES", "10"))
INBOUND = r"^/(hooks|c|oauth|api/tenants)/"
API_TOKEN, AMO_HOOK_TOKEN = "api-t0ken-for-fuzz-0123456789", "amo-hook-t0ken-for-fuzz-0123"
REAL = {"tenant": "salon", "slug": "salon", "token": TOKEN, "source": "yclients"}


@pytest.fixture
def inbound_api(settings_for_fuzz):
    svc = Services.build(settings_for_fuzz, migrate=True)
    app = create_app(services=svc)
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app).include(path_regex=INBOUND)
    yield loaded
    svc.close()


@pytest.fixture
def settings_for_fuzz(settings, tenants_dir, monkeypatch):
    """The test tenant with its JSON API token and amoCRM hook token named, so those checks can pass too."""
    monkeypatch.setenv("SALON_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("SALON_AMO_HOOK", AMO_HOOK_TOKEN)
    text = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               "  base_url: http://127.0.0.1:9\n  webhook_token_env: SALON_AMO_HOOK\n")
    (tenants_dir / "salon.yaml").write_text(f"{text}api_token_env: SALON_API_TOKEN\n", encoding="utf-8")
    return settings


def cases(operation, mode: GenerationMode) -> st.SearchStrategy:
    """Cases of ``operation`` as the document allows (or not, in negative mode); half of them with the real
    tenant and tokens in the path (the amoCRM hook's own token on its path) and the JSON API's bearer token."""
    names = {p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"}
    real = {k: REAL[k] for k in names if k in REAL}
    if operation.path.startswith("/hooks/{tenant}/amocrm/"):
        real["token"] = AMO_HOOK_TOKEN
    headers = {"Authorization": f"Bearer {API_TOKEN}"} if operation.path.startswith("/api/tenants/") else None
    return st.one_of(operation.as_strategy(generation_mode=mode),
                     operation.as_strategy(generation_mode=mode, path_parameters=real or None, headers=headers))


def test_no_inbound_operation_answers_5xx_or_an_undocumented_status(inbound_api):
    answers: Counter = Counter()
    unsatisfiable: list[str] = []
    for result in inbound_api.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=cases(operation, mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                response = case.call_and_validate(checks=[not_a_server_error, status_code_conformance])
                answers[(case.operation.label, response.status_code)] += 1

            try:
                run()
            except Unsatisfiable:  # nothing in the operation can be made invalid (e.g. one free-text path part)
                unsatisfiable.append(f"{operation.label} {mode.value}")
    by_class = Counter(f"{status // 100}xx" for (_, status), n in answers.items() for _ in range(n))
    print(f"\nschemathesis: {sum(answers.values())} requests over {len({op for op, _ in answers})} operations: "
          f"{dict(sorted(by_class.items()))}; no case could be generated for {unsatisfiable}")
    assert by_class["5xx"] == 0
    assert by_class["2xx"] and by_class["4xx"]  # the real tenant and tokens got through, the rest was refused
