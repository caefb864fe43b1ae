"""Imports every command module so each registers on the root group."""

from __future__ import annotations

from promptship.cli import diff, explain, new, render, timeline, validate

__all__ = ["diff", "explain", "new", "render", "timeline", "validate"]
