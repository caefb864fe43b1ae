"""A child process whose output is read in chunks up to a cap, within a time limit.

``subprocess.run(..., capture_output=True)`` keeps everything a command prints
in memory before the caller can look at its size: a command that prints
gigabytes exhausts memory first. :func:`run_bounded` reads stdout and stderr
as they arrive, keeps at most ``max_stdout`` bytes of stdout (the command is
killed, with its whole process group, the moment it prints more) and the last
``max_stderr`` bytes of stderr, and kills the command at ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Finished", "run_bounded"]


@dataclass(frozen=True, slots=True)
class Finished:
    """How a bounded run ended.

    Attributes:
        stdout: What the command printed (at most the cap).
        stderr: The last bytes of its stderr.
        code: Its exit status (negative: killed by that signal), ``None`` when killed by us.
        overflow: It printed more than the stdout cap, and was killed.
        timed_out: It ran past the time limit, and was killed.
    """

    stdout: bytes
    stderr: bytes
    code: int | None
    overflow: bool
    timed_out: bool


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()


class _Pump:
    """Moves stdin in and stdout/stderr out of one child, within the caps."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes, caps: tuple[int, int]) -> None:
        self.proc = proc
        self.stdin = memoryview(stdin)
        self.max_out, self.max_err = caps
        self.out = bytearray()
        self.err = bytearray()
        self.overflow = False
        self.sel = selectors.DefaultSelector()
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        for f in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(f.fileno(), False)
        if stdin:
            self.sel.register(proc.stdin, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        self.sel.register(proc.stdout, selectors.EVENT_READ)
        self.sel.register(proc.stderr, selectors.EVENT_READ)

    def step(self, wait: float) -> None:
        for key, _ in self.sel.select(wait):
            f = key.fileobj
            if f is self.proc.stdin:
                self._write()
            else:
                self._read(f)

    def _write(self) -> None:
        assert self.proc.stdin is not None
        try:
            n = os.write(self.proc.stdin.fileno(), self.stdin[: 1 << 16])
        except BlockingIOError:
            return
        except (BrokenPipeError, OSError):
            n = len(self.stdin)
        self.stdin = self.stdin[n:]
        if not self.stdin:
            self.sel.unregister(self.proc.stdin)
            self.proc.stdin.close()

    def _read(self, f: object) -> None:
        fd = f.fileno()  # type: ignore[attr-defined]
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self.sel.unregister(f)  # type: ignore[arg-type]
            return
        if f is self.proc.stdout:
            self.out += chunk
            if len(self.out) > self.max_out:
                self.overflow = True
                del self.out[self.max_out :]
        else:
            self.err += chunk
            if len(self.err) > self.max_err:
                del self.err[: len(self.err) - self.max_err]

    @property
    def open(self) -> bool:
        return bool(self.sel.get_map())

    def close(self) -> None:
        self.sel.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


def run_bounded(
    argv: Sequence[str],
    stdin: bytes,
    *,
    max_stdout: int,
    max_stderr: int = 64 * 1024,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Finished:
    """Run ``argv`` (no shell) with ``stdin``, collecting its output within the caps.

    Raises:
        OSError: The command cannot be started.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=os.name == "posix",
    )
    pump = _Pump(proc, stdin, (max_stdout, max_stderr))
    end = time.monotonic() + timeout_s
    timed_out = False
    try:
        while pump.open and not pump.overflow:
            left = end - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            pump.step(min(left, 1.0))
        if pump.overflow or timed_out:
            _kill(proc)
        try:
            code: int | None = proc.wait(timeout=max(end - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc)
            proc.wait()
            code = None
    finally:
        pump.close()
    if pump.overflow or timed_out:
        code = None
    return Finished(bytes(pump.out), bytes(pump.err), code, pump.overflow, timed_out)
