"""A tenant's Policy from its file's services/rules sections, validated at load, with field paths in every problem."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bridge.tenancy import examine_document, policy_of
from config.tenants import TenantFileError as PolicyError
from pipelines.policy import DEFAULT_TRIGGERS, Policy
from pipelines.stages import Pipeline


def build(rules: dict | None = None, **kw) -> Policy:
    args = {
        "tenant_slug": "salon",
        "timezone_name": "Europe/Kyiv",
        "working_hour": 10,
        "catalog_categories": {},
        "catalog_services": {},
        "rules": rules or {},
    }
    return load_policy(**{**args, **kw})


def load_policy(tenant_slug, timezone_name, working_hour, catalog_categories, catalog_services, rules,
                language="ru", branch_names=None) -> Policy:
    """The Policy of a tenant file with these sections, loaded as every process loads it."""
    services = {k: vars(v) if isinstance(v, SimpleNamespace) else v for k, v in catalog_services.items()}
    services = {k: {f: x for f, x in v.items() if x is not None} if isinstance(v, dict) else v
                for k, v in services.items()}
    document = {
        "slug": tenant_slug, "name": "Salon", "timezone": timezone_name, "working_hour": working_hour,
        "language": language, "branches": [{"id": b, "name": n} for b, n in (branch_names or {"1": "A"}).items()],
        "booking": {"source": "yclients", "webhook_token_env": "HOOK"}, "amocrm": {"base_url": "http://x"},
        "services": {"categories": catalog_categories, "services": services}, "rules": rules,
    }
    found = examine_document(document, Path(f"{tenant_slug}.yaml"), {})
    if found.problems:
        raise PolicyError(found.problems)
    return policy_of(found.tenants[tenant_slug])


def problems(**kw) -> dict[str, str]:
    with pytest.raises(PolicyError) as caught:
        build(**kw)
    return {p.field: p.message for p in caught.value.problems}


def test_empty_rules_give_the_documented_defaults():
    policy = build(language="uk")
    assert policy.language == "uk" and policy.triggers == DEFAULT_TRIGGERS and "repeat_promo" not in DEFAULT_TRIGGERS
    assert (policy.lost_after_days, policy.lost_step_days) == (30, (7, 7, 14))
    assert policy.quiet_hours == (time(21), time(9)) and policy.frequency_cap == (2, 7)
    assert (policy.pre_visit_reminder_hours, policy.review_request_delay_hours) == (24, 2)
    assert policy.stage_name(Pipeline.SALES, "first_booking") == "Перший запис"
    assert str(policy.timezone) == "Europe/Kyiv"


def test_a_full_rules_section_is_read():
    policy = build(
        {
            "language": "en",
            "triggers": {"repeat_promo": True, "welcome": False},
            "promo": True,
            "promo_offer": "-10%",
            "welcome_bonus": "free design",
            "reminder_lead_days": 5,
            "lost_after_days": {"default": 45, "Манікюр": 20},
            "lost_step_days": 10,
            "stages": {"sales": {"first_booking": "New!"}},
            "sales_no_show_stage": "cancelled",
            "responsible": {"default": 1001, "111111": "olena"},
            "pre_visit_reminder_hours": 12,
            "review_request_delay_hours": 4,
            "quiet_hours": {"start": "22:30", "end": "08:00"},
            "frequency_cap": {"messages": 3, "days": 14},
            "channels": ["salesbot", "sms"],
        },
        branch_names={"111111": "Центр"},
    )
    assert "repeat_promo" in policy.triggers and "welcome" not in policy.triggers
    assert policy.lost_after("manicure") == 20 and policy.lost_after("haircut") == 45
    assert policy.lost_step_days == (10, 10, 10)
    assert policy.stage_name(Pipeline.SALES, "first_booking") == "New!"
    assert policy.stage_name(Pipeline.SALES, "no_show") == "No-show"
    assert policy.responsible_for("111111") == "olena" and policy.responsible_for("222") == "1001"
    assert policy.quiet_hours == (time(22, 30), time(8)) and policy.frequency_cap == (3, 14)
    assert policy.channels == ("salesbot", "sms") and policy.branch_label("111111") == "Центр"
    assert policy.reminder_lead(21) == 5


def test_every_problem_is_reported_with_its_path():
    found = problems(
        rules={
            "language": "de",
            "triggers": {"welcom": True, "welcome": "yes"},
            "lost_after_days": {"default": 0, "Педикюр": "soon"},
            "lost_step_days": [1, 2],
            "stages": {"sales": {"vip": "VIP"}, "funnel": {}},
            "sales_no_show_stage": "won",
            "quiet_hours": {"start": "25:00", "end": "08:00"},
            "frequency_cap": {"messages": True, "days": 7},
            "channels": ["pigeon"],
            "promo": 1,
            "colour": "red",
        },
        timezone_name="Mars/Olympus",
        working_hour=24,
    )
    assert set(found) == {
        "rules.language",
        "rules.triggers.welcom",
        "rules.triggers.welcome",
        "rules.lost_after_days.default",
        "rules.lost_after_days.Педикюр",
        "rules.lost_step_days",
        "rules.stages.sales.vip",
        "rules.stages.funnel",
        "rules.sales_no_show_stage",
        "rules.quiet_hours.start",
        "rules.frequency_cap.messages",
        "rules.channels",
        "rules.promo",
        "rules.colour",
        "timezone",
        "working_hour",
    }
    assert "unknown trigger" in found["rules.triggers.welcom"]
    assert "no_show, cancelled" in found["rules.sales_no_show_stage"]


def test_the_error_message_names_each_path():
    with pytest.raises(PolicyError, match=r"rules\.lost_after_days: must be a whole number"):
        build({"lost_after_days": -1})


def test_catalog_sections_are_validated_and_normalized():
    found = problems(
        catalog_categories={"Манікюр": 0},
        catalog_services={"3333": {"periodicity_days": "often", "counts_for": "Манікюр"}},
    )
    assert set(found) == {
        "services.categories.Манікюр",
        "services.services.3333.periodicity_days",
        "services.services.3333.counts_for",
    }
    policy = build(
        catalog_categories={"Манікюр": 18, "Масаж": 30},
        catalog_services={
            "Манікюр + педикюр": SimpleNamespace(
                category="Манікюр", periodicity_days=None, counts_for=("Манікюр", "Педикюр")
            )
        },
    )
    assert policy.catalog.categories == {"manicure": 18, "масаж": 30}
    assert policy.catalog.services["манікюр педикюр"].counts_for == ("manicure", "pedicure")


def test_switching_quiet_hours_and_the_cap_off():
    policy = build({"quiet_hours": None, "frequency_cap": False})
    assert policy.quiet_hours is None and policy.frequency_cap is None
