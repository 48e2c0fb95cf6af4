"""Client messages: render a tenant's template (Jinja2 sandbox) and hand it to a channel.

The executor decides *when* a SendMessage goes out (quiet hours, cap, opt-out are planned in
``pipelines/``); this package only turns one into text and delivers it: ``render`` (texts), ``links``
(signed client-page links), ``sms`` / ``email`` / ``salesbot`` (channels), ``registry`` (which channel).
See docs/messaging.md.
"""

from bridge.messaging.base import Channel, ChannelError, OutgoingMessage, Recipient, SendResult
from bridge.messaging.registry import NoChannel, build_channels, pick_channel
from bridge.messaging.render import RenderedMessage, TemplateProblem, render_for, render_message, validate_templates

__all__ = [
    "Channel",
    "ChannelError",
    "NoChannel",
    "OutgoingMessage",
    "Recipient",
    "RenderedMessage",
    "SendResult",
    "TemplateProblem",
    "build_channels",
    "pick_channel",
    "render_for",
    "render_message",
    "validate_templates",
]
