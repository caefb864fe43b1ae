"""A child's output is read up to a cap and within a time limit; the child is killed past either."""

from __future__ import annotations

import sys

import pytest

from promptship.fs import run_bounded


def test_output_and_exit_code() -> None:
    done = run_bounded(
        [sys.executable, "-c", "import sys; d = sys.stdin.read(); print(d.upper()); sys.exit(3)"],
        b"hello" * 100_000,
        max_stdout=1 << 20,
        timeout_s=60,
    )
    assert done.stdout.strip() == b"HELLO" * 100_000
    assert (done.code, done.overflow, done.timed_out) == (3, False, False)


@pytest.mark.timeout(60)
def test_endless_output_is_stopped_at_the_cap() -> None:
    done = run_bounded(
        [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('x' * 65536)"],
        b"",
        max_stdout=1 << 20,
        timeout_s=60,
    )
    assert done.overflow
    assert len(done.stdout) == 1 << 20
    assert done.code is None


@pytest.mark.timeout(60)
def test_a_silent_command_is_killed_at_the_time_limit() -> None:
    done = run_bounded(
        [sys.executable, "-c", "import sys, time; sys.stderr.write('e' * 100000); time.sleep(60)"],
        b"",
        max_stdout=10,
        max_stderr=100,
        timeout_s=0.5,
    )
    assert done.timed_out
    assert done.code is None
    assert done.stderr == b"e" * 100
