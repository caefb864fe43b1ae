"""MLflow's real tracking server on 127.0.0.1, started once per test session.

The server takes tens of seconds to start (imports, database migrations), so
:func:`start` launches it, and beside it a seeding process that waits for the
server's ``/health`` and registers the prompts the tests read through MLflow's
own SDK; both run in the background while other tests do.
:meth:`MlflowServer.url` waits for the seeding to finish. The acceptance
``conftest.py`` starts it right after collection when a selected test asks for
the ``mlflow_server`` fixture, and stops it when the session ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEED = """
import time, urllib.request
url = {url!r}
for _ in range(1800):
    try:
        if urllib.request.urlopen(url + "/health", timeout=1).status == 200:
            break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("the mlflow server did not start")
import mlflow
mlflow.genai.register_prompt(name="summarize", template="Summarize {{{{ text }}}} in {{{{ n }}}} words.", commit_message="first")
mlflow.genai.register_prompt(name="summarize", template=[{{"role": "system", "content": "Be brief."}}, {{"role": "user", "content": "Summarize {{{{ text }}}}"}}],
    commit_message="chat", response_format={{"type": "object", "properties": {{"s": {{"type": "string"}}}}}}, model_config={{"model_name": "gpt-4o-mini", "temperature": 0.1}})
mlflow.genai.set_prompt_alias("summarize", alias="production", version=2)
for i in range(3):
    mlflow.genai.register_prompt(name=f"other-{{i}}", template="Other {{{{ x }}}}")
"""


@dataclass
class MlflowServer:
    """A running server, its seeding process and its folder."""

    address: str
    folder: Path
    server: subprocess.Popen[bytes]
    seeder: subprocess.Popen[bytes]

    def url(self, timeout: float = 300) -> str:
        """The server's URL once its prompts are registered.

        Raises:
            RuntimeError: When the server or the seeding failed.
        """
        try:
            self.seeder.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the mlflow server did not start in time") from None
        if self.seeder.returncode != 0:
            err = (self.folder / "seed.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"seeding the mlflow server failed: {err}")
        return self.address

    def stop(self) -> None:
        """Stop both processes and remove the folder."""
        for proc in (self.seeder, self.server):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> MlflowServer:
    """Launch the server and its seeding in the background (returns at once)."""
    folder = Path(tempfile.mkdtemp(prefix="mlflow-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": address}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--backend-store-uri", f"sqlite:///{folder}/db.sqlite",
            "--default-artifact-root", str(folder / "artifacts"),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    with (folder / "seed.log").open("wb") as log:  # a file: a pipe nobody reads could fill up
        seeder = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", SEED.format(url=address)],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )  # fmt: skip
    return MlflowServer(address, folder, server, seeder)
