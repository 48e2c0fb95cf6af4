"""Booking-system adapters: turn what salon booking systems send into ``pipelines.events.VisitEvent``.

``yclients`` handles YCLIENTS/Altegio record webhooks and the REST calls the catch-up poller needs;
``generic`` handles our own JSON event format (docs/generic-events.md). Both raise the errors in
``errors`` so the web layer can answer 422 (bad payload) or 202 (nothing for us) the same way for every
source. ``parsing`` holds the one time/DST policy all sources share; ``phones`` keeps contact data
normalised (E.164) and out of logs. Nothing here does storage or queueing.
"""
