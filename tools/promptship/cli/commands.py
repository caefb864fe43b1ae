"""Imports every command module so each registers on the root group."""

from __future__ import annotations

from promptship.cli import (
    bundles,
    diff,
    evals,
    explain,
    gate,
    new,
    promote,
    render,
    timeline,
    validate,
)

__all__ = [
    "bundles",
    "diff",
    "evals",
    "explain",
    "gate",
    "new",
    "promote",
    "render",
    "timeline",
    "validate",
]
