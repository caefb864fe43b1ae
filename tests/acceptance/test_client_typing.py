"""Applications get real types: ``py.typed`` ships, and mypy --strict checks an app using the API.

The app below uses the public API as docs/client.md documents it. mypy runs in
a subprocess with the tree on ``PYTHONPATH`` only: a package found there is
read the way an installed one is, so without ``py.typed`` mypy would refuse it
("missing library stubs or py.typed marker") and every name would be ``Any``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import promptship

PACKAGE = Path(promptship.__file__).resolve().parent
ROOT = PACKAGE.parents[1]

APP = '''
"""A small application written against promptship's documented API."""

import logging
import os
from typing import Any, reveal_type

from promptship import ClientStatus, Prompt, PromptClient, PromptRef, Rendered, Served
from promptship.events.sinks import FanoutSink, JsonlSink, LoggingSink, MemorySink, Sink


def baked(path: str, signers: str) -> PromptClient:
    return PromptClient.from_bundle(
        path,
        env="production",
        allowed_signers=signers,
        sink=JsonlSink("events.jsonl"),
        unit_key=os.environ.get("PROMPTSHIP_UNIT_KEY", "").encode(),
    )


def followed(store: str, signers: str) -> PromptClient:
    sink: Sink = FanoutSink([LoggingSink(level=logging.DEBUG), MemorySink()])
    return PromptClient.from_channel(
        store,
        env="production",
        allowed_signers=signers,
        cache_dir="/var/cache/promptship",
        refresh_interval=None,
        timeout=2.0,
        sink=sink,
    )


def serve(client: PromptClient, user_id: int) -> dict[str, Any]:
    prompt = client.get("support/triage", unit=user_id)
    reveal_type(prompt)
    result = client.get("support/triage").render(subject="Invoice", customer_message="Hi")
    reveal_type(result)
    log_line: dict[str, Any] = result.ref.to_dict()  # as docs/client.md writes it: no None check
    ref = result.ref
    reveal_type(ref)
    reveal_type(ref.release)
    built: Rendered = result  # a served render is a Rendered
    reveal_type(built.ref)
    client.record_outcome(result, latency_ms=812.0, accepted=True, tokens_in=412, tokens_out=96)
    client.feedback(ref, 1.0, comment="helpful")
    client.feedback(ref.request_id, 0.0)
    status: ClientStatus = client.status()
    if status.last_error is not None or status.expired:
        log_line["stale"] = status.age_s
    body = result.to_openai()
    reveal_type(body)
    return body


def main() -> None:
    with baked("production.tar", "allowed_signers") as client:
        preview: Prompt = client.get("support/triage", variant="warm")
        rendered: Served = preview.render(subject="s", customer_message="m")
        ref: PromptRef = rendered.ref
        print(serve(client, 42), ref, client.prompt_ids(), client.refresh())
'''


def _revealed(output: str) -> list[str]:
    """The types mypy revealed, in order (``builtins.`` dropped, as newer mypy versions do)."""
    found = re.findall(r'app\.py:\d+: note: Revealed type is "([^"]+)"', output)
    return [t.replace("builtins.", "") for t in found]


@pytest.mark.slow
def test_an_application_type_checks_under_mypy_strict_with_real_types(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(PACKAGE.parent),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / ".mypy"),
            "app.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "error:" not in output, output
    prompt, result, ref, release, maybe_ref, body = _revealed(output)
    assert prompt == "promptship.client._prompt.Prompt"
    assert result == "promptship.core.render.Served"
    # a NamedTuple is revealed as its fields' tuple, with the class as fallback
    named_ref = "fallback=promptship.core.render.PromptRef]"
    assert ref.startswith("tuple[str, str, str, str | None, str | None, str, int, str, str, ")
    assert ref.endswith(named_ref)
    assert maybe_ref in {f"{ref} | None", f"Union[{ref}, None]"}
    assert "Any" not in prompt + result + maybe_ref + ref + release
    assert release == "int"
    assert body == "dict[str, Any]"


def test_py_typed_ships_in_the_wheel() -> None:
    """The marker is in the package folder, which the wheel takes whole (nothing excluded)."""
    assert (PACKAGE / "py.typed").is_file()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["tools/promptship"]
    assert not {"exclude", "only-include", "include"} & set(wheel), wheel
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(PACKAGE / "py.typed")], cwd=ROOT, check=False
    )
    assert ignored.returncode != 0, "py.typed is git-ignored, so hatch would leave it out"
