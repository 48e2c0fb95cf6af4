"""The salon domain: pure functions and dataclasses, no I/O.

"pipelines" names the processing rules that turn booking events into amoCRM work (including, but not
only, amoCRM's sales pipelines). Nothing here reads the environment, the clock or a socket: the time
comes in as ``now`` and everything else as arguments, so the rules are tested as plain tables.
"""

from pipelines.events import Booking, BookingStatus, ClientInfo, ServiceLine, Staff, VisitEvent
from pipelines.planner import due, plan

__all__ = ["Booking", "BookingStatus", "ClientInfo", "ServiceLine", "Staff", "VisitEvent", "due", "plan"]
