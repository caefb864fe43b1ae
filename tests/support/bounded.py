"""Hostile cases run in a child process under hard limits: address space, CPU, wall clock.

``run_cases(cases, cwd=…)`` starts one ``python`` child per batch with
``RLIMIT_AS`` (memory) and ``RLIMIT_CPU`` set before promptship is imported,
runs each case in turn (a promptship command line through ``promptship.cli.main``,
or a Python snippet for the application client) with its own wall-clock alarm,
and reports, per case, the exit code, the end of stdout and stderr, and the CPU
seconds it took. A case that exhausts memory, spins or blocks kills or stalls
only its batch: the cases after it come back missing, and the test names them.

``HOME`` points at an empty folder the caller can check afterwards, so a case
that writes outside the repository is caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promptship

__all__ = ["Case", "Outcome", "run_cases"]

TOOLS = Path(promptship.__file__).resolve().parents[1]
SUPPORT = Path(__file__).resolve().parent

MEMORY_CAP = 1536 * 1024 * 1024
"""Address space of a batch: far below what any of the attacks needs to do harm."""
CPU_CAP_S = 120
"""CPU seconds of a batch (RLIMIT_CPU)."""
CASE_ALARM_S = 20
"""Wall-clock seconds one case may take before it is interrupted and reported as hung."""

_CHILD = r"""
import contextlib, io, json, os, resource, signal, sys, time, traceback
mem, cpu, alarm = (int(a) for a in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

class Hung(BaseException):
    pass

def on_alarm(signum, frame):
    raise Hung(f"no answer within {alarm} s")

signal.signal(signal.SIGALRM, on_alarm)


def peak_mb():
    # VmHWM, not ru_maxrss: after fork + exec, ru_maxrss still counts the parent's pages
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

from promptship.cli import main
for line in sys.stdin:
    case = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    started = time.process_time()
    signal.alarm(alarm)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if "args" in case:
                code = main(case["args"])
            else:
                scope = {"result": None}
                exec(case["python"], scope)
                code = 0
                print(json.dumps(scope["result"]), file=out)
    except SystemExit as e:
        code = e.code
    except BaseException as e:
        code = "raised " + type(e).__name__
        err.write("".join(traceback.format_exception(e))[-3000:])
    finally:
        signal.alarm(0)
    print(json.dumps({
        "id": case["id"], "code": code, "out": out.getvalue()[-6000:],
        "err": err.getvalue()[-6000:], "cpu": time.process_time() - started,
        "peak_mb": peak_mb(),
    }), flush=True)
"""


@dataclass(frozen=True)
class Case:
    """One hostile case: a command line (``args``) or a Python snippet setting ``result``."""

    id: str
    args: Sequence[str | Path] | None = None
    python: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one case did in the child."""

    id: str
    code: Any
    out: str
    err: str
    cpu: float
    peak_mb: float
    """The child's peak resident memory so far (cases run in order), in MiB."""

    @property
    def clean(self) -> bool:
        """Exit 1 or 2, and no sign of a bug (internal error, a traceback, a Python exception)."""
        return (
            self.code in (1, 2) and "internal error" not in self.err and "Traceback" not in self.err
        )


def run_cases(
    cases: Sequence[Case],
    *,
    cwd: Path,
    home: Path,
    env: Mapping[str, str] | None = None,
    memory: int = MEMORY_CAP,
) -> dict[str, Outcome]:
    """Run ``cases`` in one bounded child; every case's outcome by id (missing: it killed the child)."""
    home.mkdir(parents=True, exist_ok=True)
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(TOOLS), str(SUPPORT)]),
        "LC_ALL": "C.UTF-8",
        **(env or {}),
    }
    lines = "".join(
        json.dumps(
            {"id": c.id, "args": [str(a) for a in c.args]}
            if c.args is not None
            else {"id": c.id, "python": c.python}
        )
        + "\n"
        for c in cases
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(memory), str(CPU_CAP_S), str(CASE_ALARM_S)],
        input=lines,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env,
        timeout=CASE_ALARM_S * len(cases) + 60,
        check=False,
    )
    found: dict[str, Outcome] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            raw = json.loads(line)
            found[raw["id"]] = Outcome(
                raw["id"], raw["code"], raw["out"], raw["err"], raw["cpu"], raw["peak_mb"]
            )
    missing = [c.id for c in cases if c.id not in found]
    assert not missing, (
        f"the bounded child died (exit {done.returncode}) before cases {missing}: "
        f"{done.stderr[-2000:]}"
    )
    return found
