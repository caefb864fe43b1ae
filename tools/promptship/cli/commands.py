"""Imports every command module so each registers on the root group."""

from __future__ import annotations

from promptship.cli import diff, explain, new, render, validate

__all__ = ["diff", "explain", "new", "render", "validate"]
