#!/usr/bin/env python3
"""Developer entry point that needs only Python 3.11+ and git.

    python3 scripts/dev.py demo   # set up, then run the main job on this repo's registry
    python3 scripts/dev.py test   # set up, then run the test suite
    python3 scripts/dev.py lint   # set up, then ruff and mypy (strict)
    python3 scripts/dev.py bench  # set up, then the benchmarks (prints figures)

Setting up means: a virtual environment in .venv with promptship installed in
editable mode with its dev extra. It is redone only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(*args: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check).returncode


def setup() -> None:
    """Create .venv and install promptship[dev] unless pyproject.toml is unchanged."""
    stamp = VENV / ".promptship-stamp"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    stamp.write_text(want)


def test(extra: list[str]) -> int:
    """Run the test suite; "no tests collected" counts as a failure."""
    rc = _run(PY, "-m", "pytest", "-q", *extra, check=False)
    if rc == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return rc


def lint() -> int:
    """Ruff (lint and format check) and mypy --strict."""
    rc = _run(BIN / "ruff", "check", "tools", "tests", "scripts", check=False)
    rc |= _run(BIN / "ruff", "format", "--check", "tools", "tests", "scripts", check=False)
    rc |= _run(PY, "-m", "mypy", check=False)
    return rc


def bench(extra: list[str]) -> int:
    """Run the benchmarks, which print their figures."""
    return _run(
        PY,
        "-m",
        "pytest",
        "-q",
        "-s",
        "tests/benchmarks",
        "-p",
        "no:cacheprovider",
        *extra,
        check=False,
    )


def demo() -> int:
    """The main job on this repository's own registry, with a throwaway signing key."""
    cli = BIN / "promptship"
    with tempfile.TemporaryDirectory(prefix="promptship-demo-") as tmp:
        out = Path(tmp)
        key, signers = out / "dev_key", out / "allowed_signers"
        print("+ promptship keys generate (throwaway dev key)", flush=True)
        line = subprocess.run(
            [str(cli), "keys", "generate", "-o", str(key)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        signers.write_text(line)
        steps: list[list[str | Path]] = [[cli, "validate"]]
        for env in ("staging", "production"):
            steps.append([cli, "bundle", "build", "--env", env, "-o", out, "--sign", "--key", key])
            steps.append(
                [
                    cli,
                    "bundle",
                    "verify",
                    out / f"{env}.tar",
                    "--env",
                    env,
                    "--allowed-signers",
                    signers,
                ]
            )
        # Evaluate the exact staging bundle offline, sign the result, check the signature.
        att = out / "staging.intoto.jsonl"
        steps += [
            [cli, "eval", "--bundle", out / "staging.tar", "--out", out / "evals"],
            [
                cli,
                "eval",
                "attest",
                "--report",
                out / "evals" / "report.json",
                "--bundle",
                out / "staging.tar",
                "--key",
                key,
                "-o",
                att,
            ],
            [
                cli,
                "eval",
                "verify-attestation",
                att,
                "--bundle",
                out / "staging.tar",
                "--env",
                "staging",
                "--allowed-signers",
                signers,
            ],
        ]
        steps.append(
            [
                cli,
                "render",
                "support/triage",
                "--env",
                "production",
                "--input",
                "subject=Invoice",
                "--input",
                "channel=email",
                "--input",
                "customer_message=I was charged twice for November.",
            ]
        )
        for step in steps:
            rc = _run(*step, check=False)
            if rc:
                return rc
    return 0


def main() -> int:
    """Dispatch ``demo``, ``test``, ``lint`` or ``bench``."""
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "lint", "bench", "setup"}:
        print(__doc__)
        return 2
    setup()
    cmd, extra = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        return 0
    if cmd == "test":
        return test(extra)
    if cmd == "lint":
        return lint()
    if cmd == "bench":
        return bench(extra)
    return demo()


if __name__ == "__main__":
    if sys.version_info < (3, 11):  # noqa: UP036 - the one place that must say it
        sys.exit("promptship needs Python 3.11 or newer")
    sys.exit(main())
