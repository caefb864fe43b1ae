"""A provider that runs a local command: the request as JSON on stdin, the answer on stdout."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptship.core import jsonlimits
from promptship.core.errors import ProviderError, UsageError
from promptship.evals.providers._values import ChatRequest, ChatResponse
from promptship.fs import run_bounded

__all__ = ["CommandProvider"]

_MAX_OUTPUT_BYTES = 8 * 1024 * 1024
_STDERR_TAIL = 1000


class CommandProvider:
    """Runs ``argv`` once per request, for models only reachable through a script.

    The command reads the request (``ChatRequest.to_dict()``: model, messages,
    prompt, parameters, response_format) as one JSON object on stdin and
    writes one JSON object on stdout: ``{"text": ...}`` plus, optionally,
    ``prompt_tokens``, ``completion_tokens`` and ``cost_usd``. Each call is its
    own process, so the provider is thread-safe.

    Args:
        argv: The command and its arguments (no shell).
        timeout_s: Kill the command (and its process group) after this long.
        env: The command's environment; ``None`` inherits the caller's.
        cwd: The command's working directory.
        max_output_bytes: Refuse larger stdout (the command is killed the moment it
            prints more; its output is never held whole).
        clock: Monotonic seconds, for latency.

    Raises:
        UsageError: ``argv`` is empty or the timeout is not positive.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float = 120.0,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_output_bytes: int = _MAX_OUTPUT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError("a command provider needs argv as a non-empty list of strings")
        if timeout_s <= 0:
            raise UsageError("timeout_s must be > 0")
        self._argv = tuple(argv)
        self._timeout_s = timeout_s
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._max_bytes = max_output_bytes
        self._clock = clock

    @property
    def name(self) -> str:
        """``command:`` and the command line."""
        return f"command:{shlex.join(self._argv)}"

    def __repr__(self) -> str:
        return f"CommandProvider({list(self._argv)!r})"

    def complete(self, req: ChatRequest) -> ChatResponse:
        """Run the command on the request.

        Raises:
            ProviderError: The command cannot start, times out, exits nonzero,
                or prints something that is not a response object.
        """
        stdin = json.dumps(req.to_dict(), ensure_ascii=False).encode()
        start = self._clock()
        stdout, stderr, code = self._run(stdin)
        elapsed_ms = (self._clock() - start) * 1000.0
        if code != 0:
            raise ProviderError(
                f"{self.name}: exited with status {code}{_tail(stderr)}",
                hint="run the command by hand with the request JSON on stdin",
            )
        try:
            data = jsonlimits.loads(stdout)
        except ValueError as e:
            raise ProviderError(
                f"{self.name}: stdout is not JSON ({type(e).__name__}){_tail(stderr)}",
                hint='print one JSON object such as {"text": "..."} on stdout',
            ) from e
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise ProviderError(
                f"{self.name}: stdout has no string `text`{_tail(stderr)}",
                hint='print one JSON object such as {"text": "..."} on stdout',
            )
        return ChatResponse(
            text=data["text"],
            latency_ms=elapsed_ms,
            prompt_tokens=_count(data.get("prompt_tokens")),
            completion_tokens=_count(data.get("completion_tokens")),
            cost_usd=_cost(data.get("cost_usd")),
            cached=False,
            raw=data,
        )

    def _run(self, stdin: bytes) -> tuple[bytes, bytes, int]:
        try:
            done = run_bounded(
                self._argv,
                stdin,
                max_stdout=self._max_bytes,
                max_stderr=_STDERR_TAIL * 4,
                timeout_s=self._timeout_s,
                env=self._env,
                cwd=self._cwd,
            )
        except OSError as e:
            raise ProviderError(
                f"{self.name}: cannot run ({e.strerror or e})",
                hint="check the command exists and is executable",
            ) from e
        if done.overflow:
            raise ProviderError(
                f"{self.name}: printed more than {self._max_bytes:,} bytes on stdout "
                f"(stopped){_tail(done.stderr)}",
                hint="print one JSON object with the answer, nothing else",
            )
        if done.timed_out or done.code is None:
            raise ProviderError(
                f"{self.name}: no answer within {self._timeout_s:g}s{_tail(done.stderr)}",
                hint="raise the command provider's timeout_s",
            )
        return done.stdout, done.stderr, done.code


def _tail(stderr: bytes | None) -> str:
    if not stderr:
        return ""
    text = stderr[-_STDERR_TAIL * 4 :].decode("utf-8", "replace").strip()
    if len(text) > _STDERR_TAIL:
        text = "..." + text[-_STDERR_TAIL:]
    return f"; stderr: {text}" if text else ""


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _cost(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
