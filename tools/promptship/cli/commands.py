"""Imports every command module so each registers on the root group."""

from __future__ import annotations

__all__: list[str] = []
