"""Configuration: process settings from the environment and per-salon tenant files."""

from config.settings import Settings

__all__ = ["Settings"]
