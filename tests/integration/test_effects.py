"""Every action type says what it does: a new type cannot be planned without a line in EFFECTS."""

from __future__ import annotations

from bridge.store.effects import CRM_KINDS, EFFECTS, CrmPhase
from jobs.executor import PHASES
from pipelines.actions import action_types


def test_every_action_type_is_declared_in_the_effects_table():
    assert set(action_types().values()) == set(EFFECTS)


def test_every_amocrm_phase_has_its_module_and_crm_kinds_follow_the_table():
    assert set(PHASES) == set(CrmPhase)
    assert {kind.__name__ for kind, effect in EFFECTS.items() if effect.crm is not None} == CRM_KINDS
    assert "UpsertContact" in CRM_KINDS and "OpenCycle" not in CRM_KINDS
