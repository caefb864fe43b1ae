"""The worked example of docs/analytics.md: an event log for a registry's own prompts.

:func:`registry_example` reads a registry (at a git ref) for its prompts, their
versions and the environment's first experiment, and the release number that
environment serves at the ref, then generates a log with
:mod:`promptship.analytics.example` whose readout has a known answer.
"""

from __future__ import annotations

import random
from pathlib import Path

from promptship.analytics.example import ExampleSpec, PromptSpec, example_jsonl
from promptship.analytics.splits import experiments_at
from promptship.core.errors import UsageError
from promptship.fs import write_atomic
from promptship.git import open_repository
from promptship.registry import load_files

__all__ = ["registry_example", "write_registry_example"]


def registry_example(
    root: Path, *, env: str = "production", ref: str = "HEAD", requests: int = 40_000
) -> ExampleSpec:
    """The example's spec for the registry at ``root``: its prompts and ``env``'s experiment.

    The first experiment's second arm (in name order) gets +5 points of
    acceptance; every other arm none.

    Raises:
        UsageError: ``env`` does not exist at ``ref``.
    """
    repo = open_repository(root)
    commit = repo.resolve(ref)
    files = load_files(repo.snapshot(commit), None)
    if env not in files.environments:
        raise UsageError(f"unknown environment '{env}' at {ref}")
    declared = sorted(experiments_at(repo, commit, env).values(), key=lambda d: d.experiment)
    tested = {d.prompt for d in declared}
    # the prompts under test get half of the traffic, the others share the rest
    prompts = [
        PromptSpec(
            pid, str(doc.data.get("version")), float(len(files.prompts)) if pid in tested else 1.0
        )
        for pid, doc in sorted(files.prompts.items())
        if isinstance(doc.data, dict)
    ]
    experiment = None
    effects: dict[str, float] = {}
    if declared:
        first = declared[0]
        experiment = (first.experiment, first.prompt, first.split)
        arms = sorted(a for a in first.split if a != "base")
        if arms:
            effects[arms[0]] = 0.05
    pin = files.environments[env].data.get("release")
    number = pin.get("number") if isinstance(pin, dict) else None
    # the release the environment serves: its pin, else (unpinned) the commit count
    release = number if isinstance(number, int) else repo.first_parent_count(commit)
    return ExampleSpec(
        env, release, prompts, experiment, effects, requests=requests, units=requests // 3
    )


def write_registry_example(
    root: Path, out: Path, *, seed: int = 13, env: str = "production"
) -> int:
    """Write the example log of the registry at ``root`` to ``out``; returns its byte size."""
    data = example_jsonl(registry_example(root, env=env), random.Random(seed))  # noqa: S311 - a reproducible example, not a secret
    write_atomic(out, data, make_parents=True)
    return len(data)
