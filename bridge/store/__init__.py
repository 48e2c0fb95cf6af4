"""Durable state in SQLAlchemy 2: the source of truth that Redis and amoCRM can always be rebuilt from."""

from bridge.store.db import Store

__all__ = ["Store"]
