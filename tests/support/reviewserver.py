"""``promptship review serve`` in a child process, and headless Chromium to drive its page.

:class:`ReviewServer` starts the real command (``python -m promptship review
serve``) on a free loopback port, waits for the URL it announces, and can be
stopped gracefully or killed (SIGKILL) mid-queue. :func:`chromium` opens
Debian's ``chromium`` through its ``chromedriver`` with Selenium (the driver
path is given, so Selenium Manager never downloads anything); it skips when
they are not installed, unless ``CI`` is set, where it fails.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import promptship

TOOLS = Path(promptship.__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
_URL = re.compile(r"review page: (http://\S+/)")


class ReviewServer:
    """A running ``promptship review serve`` child process.

    Args:
        queue: The queue file.
        reviewer: The reviewer's name.
        ratings: The ratings file (default: the command's default beside the queue).
        extra: More command-line arguments.
    """

    def __init__(
        self,
        queue: Path,
        reviewer: str,
        ratings: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        args = [sys.executable, "-m", "promptship", "review", "serve", str(queue)]
        args += ["--reviewer", reviewer, "--port", "0", *extra]
        if ratings is not None:
            args += ["--ratings", str(ratings)]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TOOLS), os.environ.get("PYTHONPATH", "")]),
        }
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        self.url = self._wait_for_url(30.0)
        self.stderr = ""

    def _wait_for_url(self, timeout: float) -> str:
        assert self.proc.stderr is not None
        seen = []
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = self.proc.stderr.readline()
                if not line:
                    break
                seen.append(line)
                found = _URL.search(line)
                if found:
                    return found.group(1)
        finally:
            selector.close()
        self.proc.kill()
        self.proc.communicate(timeout=10)
        raise AssertionError("review serve did not announce its URL:\n" + "".join(seen))

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a crash or a closed laptop lid would leave it."""
        self.proc.kill()
        _, self.stderr = self.proc.communicate(timeout=10)

    def stop(self) -> str:
        """Ctrl+C (SIGINT), and what it printed to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        self.stderr = err
        return err

    def __enter__(self) -> ReviewServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)


def browser_available() -> bool:
    return (
        Path(CHROMIUM).exists()
        and Path(CHROMEDRIVER).exists()
        and shutil.which("chromium") is not None
    )


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium under Selenium (skipped without it, failed in CI)."""
    if not browser_available():
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are required in CI (see .ci/run)")
        pytest.skip("chromium not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
