"""Blueprints of the emulated API v4 (and the v2 Salesbot launcher), one resource per module."""
