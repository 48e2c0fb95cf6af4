"""Adapters to the outside world: the store, Redis/RQ, booking systems, amoCRM, payments, messaging."""
