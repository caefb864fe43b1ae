"""Example event logs for the analytics tests: the repository's experiment with a known effect."""

from __future__ import annotations

from promptship.analytics import example

SPLIT = {"base": 50, "concise": 25, "warm": 25}


def spec(release: int = 1, **changes: object) -> example.ExampleSpec:
    fields: dict[str, object] = {
        "env": "production",
        "release": release,
        "prompts": [
            example.PromptSpec("growth/onboarding_email", "1.2.0", 3),
            example.PromptSpec("support/triage", "2.0.0", 1),
        ],
        "experiment": ("onboarding-email-tone", "growth/onboarding_email", SPLIT),
        "effects": {"concise": 0.06},
        "requests": 6000,
        "units": 1500,
        "days": 14,
    }
    fields.update(changes)
    return example.ExampleSpec(**fields)  # type: ignore[arg-type]
