"""A real OCI registry on 127.0.0.1 for tests: the CNCF distribution registry.

Debian packages it as ``docker-registry`` (``/usr/bin/docker-registry serve
CONFIG``). :class:`LocalRegistry` writes a config that listens on a free
loopback port and stores blobs in a temporary folder, starts the binary as a
subprocess, waits until ``/v2/`` answers, and stops it on exit. Use it through
the ``oci_registry`` fixture in ``tests/conftest.py``, which skips when the
binary is missing, unless ``CI`` is set (then it fails)::

    target = oci.parse_target(oci_registry.url("promptship/registry"), plain_http=True)
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["BINARY", "LocalRegistry", "find_binary"]

BINARY = "docker-registry"
_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def find_binary() -> str | None:
    """The registry binary on PATH, or Debian's install path, or ``None``."""
    found = shutil.which(BINARY)
    if found is None and Path("/usr/bin", BINARY).exists():
        found = str(Path("/usr/bin", BINARY))
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class LocalRegistry:
    """A distribution registry subprocess on 127.0.0.1 with its storage under ``folder``."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def url(self, repository: str) -> str:
        """``oci://127.0.0.1:PORT/REPOSITORY``."""
        return f"oci://{self.host}/{repository}"

    def log(self) -> str:
        """What the registry printed so far."""
        path = self.folder / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start on a free port; a port taken between choosing and binding is retried."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            self.port = _free_port()
            config = self.folder / "config.yml"
            config.write_text(_CONFIG.format(root=self.folder / "storage", port=self.port))
            with (self.folder / "registry.log").open("wb") as log:
                self._proc = subprocess.Popen(
                    [self.binary, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"the registry did not start:\n{self.log()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the registry (terminate, then kill if it does not exit)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
