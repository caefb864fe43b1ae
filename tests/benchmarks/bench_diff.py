"""Diff benchmark: `promptship diff HEAD~1 HEAD` on a 10,000-prompt git repository.

Run: ``python3 scripts/dev.py bench -k diff`` (or ``pytest -s tests/benchmarks/bench_diff.py``).

The repository is the synthetic registry of ``synth.generate`` (10,000 prompts,
1,000 production overlays, a shared fragment, two environments) committed with
pygit2; then commits that change 1, 10 and 100 prompts each. For each commit it
prints whole-process times (a fresh interpreter each run, the best of a few):

- ``diff`` cold: ``--no-cache``, every file the change reaches parsed;
- ``diff`` warm: with the parse cache filled by an earlier run;
- ``git diff --stat HEAD~1 HEAD`` as the baseline of the same run.

Then two runs that read every prompt, where the cache is what matters: a
commit editing staging's ``defaults`` (every prompt's staging view changes),
and ``validate --ref HEAD`` beside a full ``promptship validate`` of the
checkout. It also prints the interpreter's start-up with the CLI imported
(``promptship --version``), the floor of every command.

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
    # Measure the package as installed: byte-compiled modules are reused between runs.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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


def _commit_defaults(workdir: Path) -> None:
    """Commit an edit of staging's defaults: every prompt's staging view changes."""
    repo = pygit2.Repository(str(workdir))
    env = workdir / "environments/staging.yaml"
    env.write_text(
        env.read_text().replace(
            "      max_tokens: 700\n", "      max_tokens: 700\n      top_p: 0.9\n"
        )
    )
    repo.index.add("environments/staging.yaml")
    repo.index.write()
    parent = repo.head.peel(pygit2.Commit)
    sig = signature(EPOCH + STEP * 100)
    repo.create_commit("HEAD", sig, sig, "staging defaults", repo.index.write_tree(), [parent.id])


def run(root: Path) -> list[tuple[str, float, float, float]]:
    """Build the repository, time each scenario, print and return the rows."""
    start = time.perf_counter()
    workdir = _build(root / "bench")
    print(f"\nbuilt and committed {N} prompts in {time.perf_counter() - start:.1f} s")
    cache = root / "cache"
    env = _env(cache)
    cli = [sys.executable, "-m", "promptship"]
    startup = _best([*cli, "--version"], workdir, env)
    validate = _best([*cli, "validate", "--format", "json"], workdir, env, repeat=1)
    rows: list[tuple[str, float, float, float]] = []
    diff = [*cli, "diff", "HEAD~1", "HEAD", "--format", "json"]
    git_stat = ["git", "diff", "--stat", "HEAD~1", "HEAD"]
    for round_, count in enumerate(CHANGED, start=1):
        _change(workdir, count, round_)
        out = subprocess.run(diff, cwd=workdir, env=env, capture_output=True, check=True)
        assert out.stdout.count(b'"status": "changed"') >= count  # the diff saw every change
        cold = _best([*diff, "--no-cache"], workdir, env)
        warm = _best(diff, workdir, env)
        rows.append((f"{count} prompt(s)", cold, warm, _best(git_stat, workdir, env)))
    # Changes that reach every prompt: there the cache is what matters.
    _commit_defaults(workdir)
    subprocess.run(diff, cwd=workdir, env=env, capture_output=True, check=True)  # fill
    cold = _best([*diff, "--no-cache"], workdir, env, repeat=1)
    warm = _best(diff, workdir, env, repeat=1)
    rows.append((f"staging defaults ({N})", cold, warm, _best(git_stat, workdir, env)))
    ref = [*cli, "validate", "--ref", "HEAD", "--format", "json"]
    subprocess.run(ref, cwd=workdir, env=env, capture_output=True, check=True)  # fill
    cold = _best([*ref, "--no-cache"], workdir, env, repeat=1)
    warm = _best(ref, workdir, env, repeat=1)
    rows.append(("validate --ref HEAD", cold, warm, validate))
    print(f"CLI start-up (promptship --version): {startup:6.2f} s")
    print(f"{'promptship diff HEAD~1 HEAD':<28} {'cold':>9} {'warm':>9}   baseline")
    for what, cold_s, warm_s, base_s in rows[:-1]:
        print(f"{what:<28} {cold_s:>7.2f} s {warm_s:>7.2f} s   git diff --stat {base_s:.3f} s")
    what, cold_s, warm_s, base_s = rows[-1]
    print(f"{what:<28} {cold_s:>7.2f} s {warm_s:>7.2f} s   validate (working tree) {base_s:.2f} s")
    git(workdir, "status", "--short")  # the checkout stays usable
    return rows


def test_bench_diff(tmp_path: Path) -> None:
    rows = run(tmp_path)
    assert len(rows) == len(CHANGED) + 2
