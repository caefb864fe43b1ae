"""Imports every command module so each registers on the root group."""

from __future__ import annotations

from promptship.cli import explain, new, render, validate

__all__ = ["explain", "new", "render", "validate"]
