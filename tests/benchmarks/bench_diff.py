"""Diff benchmark: `promptship diff HEAD~1 HEAD` on a 10,000-prompt git repository.

Run: ``python3 scripts/dev.py bench -k diff`` (or ``pytest -s tests/benchmarks/bench_diff.py``).

The repository is the synthetic registry of ``synth.generate`` (10,000 prompts,
1,000 production overlays, a shared fragment, two environments) committed with
pygit2; then commits that change 1, 10 and 100 prompts each. For each commit it
prints whole-process times (a fresh interpreter each run, the best of a few):

- ``diff`` cold: ``--no-cache``, every changed file parsed;
- ``diff`` warm: with the parse cache filled by an earlier run;
- ``git diff --stat HEAD~1 HEAD`` as the baseline of the same run;
- once, a full ``promptship validate`` of the checkout, and the interpreter's
  start-up with the CLI imported (``promptship --version``).

Targets (issue 3): cold under 1 s, warm under 0.5 s, and growth with the number
of changed prompts rather than the registry's size. Nothing here asserts a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pygit2

from gitrepo import EPOCH, STEP, git, make_repo, signature
from tests.benchmarks.synth import generate, prompt_path, prompt_text

N = 10_000
CHANGED = (1, 10, 100)
REPEAT = 3


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PROMPTSHIP_CACHE_DIR"] = str(cache)
    return env


def _best(cmd: list[str], cwd: Path, env: dict[str, str], repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def _build(root: Path) -> Path:
    """Commit a synthetic registry of N prompts; return the checkout's path."""
    repo = make_repo(root)
    workdir = Path(repo.workdir)
    generate(workdir, N)
    index = repo.index
    index.add_all()
    index.write()
    sig = signature(EPOCH)
    repo.create_commit("HEAD", sig, sig, f"{N} prompts", index.write_tree(), [])
    return workdir


def _change(workdir: Path, count: int, round_: int) -> None:
    """Commit a new version of ``count`` prompts spread over the registry."""
    repo = pygit2.Repository(str(workdir))
    index = repo.index
    for j in range(count):
        i = j * (N // count) + round_
        ns, name = prompt_path(i)
        rel = f"registry/{ns}/{name}.yaml"
        text = prompt_text(i, minor=round_).replace(
            "Cite the knowledge base", f"Cite the knowledge base (round {round_})"
        )
        (workdir / rel).write_text(text, encoding="utf-8")
        index.add(rel)
    index.write()
    parent = repo.head.peel(pygit2.Commit)
    sig = signature(EPOCH + STEP * (round_ + 1))
    repo.create_commit("HEAD", sig, sig, f"change {count} prompts", index.write_tree(), [parent.id])


def run(root: Path) -> list[tuple[int, float, float, float]]:
    """Build the repository, time each scenario, print and return the rows."""
    start = time.perf_counter()
    workdir = _build(root / "bench")
    print(f"\nbuilt and committed {N} prompts in {time.perf_counter() - start:.1f} s")
    cache = root / "cache"
    env = _env(cache)
    cli = [sys.executable, "-m", "promptship"]
    startup = _best([*cli, "--version"], workdir, env)
    validate = _best([*cli, "validate", "--format", "json"], workdir, env, repeat=1)
    print(f"CLI start-up (promptship --version): {startup:5.2f} s")
    print(f"full validate of {N} prompts:      {validate:5.2f} s")
    rows: list[tuple[int, float, float, float]] = []
    diff = [*cli, "diff", "HEAD~1", "HEAD", "--format", "json"]
    for round_, count in enumerate(CHANGED, start=1):
        _change(workdir, count, round_)
        out = subprocess.run(diff, cwd=workdir, env=env, capture_output=True, check=True)
        assert out.stdout.count(b'"status": "changed"') >= count  # the diff saw every change
        cold = _best([*diff, "--no-cache"], workdir, env)
        warm = _best(diff, workdir, env)
        baseline = _best(["git", "diff", "--stat", "HEAD~1", "HEAD"], workdir, env)
        rows.append((count, cold, warm, baseline))
    print(f"{'changed':>8} {'diff cold':>10} {'diff warm':>10} {'git diff --stat':>16}")
    for count, cold, warm, baseline in rows:
        print(f"{count:>8} {cold:>8.2f} s {warm:>8.2f} s {baseline:>14.3f} s")
    git(workdir, "status", "--short")  # the checkout stays usable
    return rows


def test_bench_diff(tmp_path: Path) -> None:
    rows = run(tmp_path)
    assert [r[0] for r in rows] == list(CHANGED)
