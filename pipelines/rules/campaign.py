"""A message campaign to a segment (seed 001): the operator's text to each chosen client, once per campaign.

The text goes out in the ``campaign`` template (``{{ name }}, {{ text }} … {{ link }}``, replaceable per
tenant) as a marketing message: opt-out, the blacklist, quiet hours and the frequency cap apply
(``rules.messaging``). The campaign's name is in every key, so sending the same campaign again reaches
nobody twice; a new name is a new campaign.
"""

from __future__ import annotations

from pipelines.actions import Action
from pipelines.rules.context import Scene
from pipelines.rules.messaging import per_channel

TEMPLATE = "campaign"


def segment_message(scene: Scene, campaign: str, text: str, channels: tuple[str, ...]) -> list[Action]:
    """The campaign's message to this client on each channel (Skips with the reason where it cannot go)."""
    return per_channel(scene, TEMPLATE, f"campaign:{campaign}", {"name": scene.client.name, "text": text}, channels)
