"""Byline's settings: one typed place (see :mod:`config.settings`)."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
