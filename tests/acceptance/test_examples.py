"""Every example in ``--help`` and in README.md and docs/*.md runs, as a user would copy it.

The examples are read by ``tests/support/examples.py``: the ``Example:`` /
``Examples:`` blocks (and every ``promptship …`` line of a ``\\b`` block) of each
command's help, walked through click's command tree, and every ``sh``, ``bash``,
``shell``, ``console`` and ``python`` fence of the docs. Each runs, in the order
it is shown, in one workspace: a clone of this repository whose registry is the
example registry (the working tree's ``registry/``, ``environments/`` and
``CODEOWNERS``), prepared as a user who followed the README would have it:

- branch ``main`` checked out at the code under test, ``origin/main`` at the same
  commit (``origin/HEAD`` naming it), ``HEAD~1`` the commit before;
- ``staging.key`` and ``production.key`` (ignored by ``.gitignore``'s ``*.key``),
  their lines in ``environments/allowed_signers``, committed; production then
  promoted twice (releases 1 and 2, each committed), so there is a release to
  roll back to;
- ``.venv/bin/promptship``, ``.venv/bin/python`` and ``.venv/bin/activate`` running
  this promptship (what ``scripts/dev.py`` installs), first on ``PATH``;
- ``inputs.json`` (the first case of ``growth/onboarding_email``'s suite);
- ``events/production.jsonl.gz``: the worked example's event log (docs/analytics.md);
  ``events/app.jsonl.gz``: an
  application serving production's ``support/triage`` with its responses kept;
- ``dist/staging.tar`` and ``dist/production.tar``, built and signed; ``store/``
  with both published; ``evals/report.json`` (the staging bundle's echo evals)
  and its attestation ``dist/staging.intoto.jsonl``;
- ``PROMPTSHIP_SIGNING_KEY`` holding the production key, as production's jobs have it;
- ``HOME`` an empty folder beside the clone; ``GITHUB_OUTPUT``,
  ``GITHUB_STEP_SUMMARY`` and ``BEFORE`` (a push's ``before``: ``HEAD~1``) set as a
  workflow step has them.

Shell examples must exit 0 (a ``# exits N`` comment on the line expects N). A
single ``promptship …`` line runs in-process (``promptship.cli.main``); other
lines and scripts run in ``bash -e -o pipefail``. A ``console`` block's ``$ ``
lines run the same way, each expected to fail exactly when the transcript shows
``error:`` after it. Python blocks run with this interpreter in the workspace.

No example installs anything into the interpreter the tests run with (a
``python3 scripts/dev.py demo`` run in the clone once did ``pip install -e``
through the ``.venv/bin/python`` shim and re-pointed the shared virtualenv at a
deleted folder): an example that installs packages or creates a virtual
environment (``examples.installs``) must be marked ``installs`` and is never run;
the workspace's ``python``, ``python3``, ``pip`` and ``pip3`` refuse ``-m pip``,
``-m venv`` and the like; and the workspace fixture checks on teardown that
``sys.prefix``'s ``.pth`` files, ``direct_url.json`` and ``promptship`` script are
unchanged.

Examples that cannot run here are marked where they are shown and skipped
with their reason (``examples.REASONS``), never silently:
``# needs …`` after a help example, ``<!-- example: skip REASON: why -->`` before a
doc fence. ``test_every_skip_has_a_known_reason`` lists them by reason.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from chatserver import ChatServer
from examples import (
    REASONS,
    ROOT,
    Example,
    commands,
    doc_examples,
    doc_files,
    help_examples,
    help_has_examples,
    installs,
)
from promptship.cli import main
from promptship.cli._app import cli, register
from promptship.registry import yamlio
from storeserver import StoreServer

register()
HELP = help_examples(cli)
DOCS = [e for f in doc_files() for e in doc_examples(f)]
ALL = HELP + DOCS

_SHELL = re.compile(r"[|&;<>()$`*?~{}\[\]]")
_COMPOUND = re.compile(r"^\s*(for|while|if|until|case|function|\{|\()\b|<<|^\s*cd\s", re.M)


def _git(ws: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ws, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _promptship(ws: Path, *args: str | Path) -> None:
    """A setup step through the CLI, in the workspace; it must succeed."""
    cwd = Path.cwd()
    os.chdir(ws)
    try:
        code = main([str(a) for a in args])
    finally:
        os.chdir(cwd)
    assert code == 0, f"setup step failed: promptship {' '.join(map(str, args))}"


_REFUSE = (
    'echo "examples workspace: refused $0 $*: an example never installs into the '
    'interpreter the tests run with (mark it <!-- example: skip installs: ... -->)" >&2; exit 97'
)
_GUARD = f"""prev=""
for a in "$@"; do
  if [ "$prev" = "-m" ]; then
    case "$a" in pip|pip.*|ensurepip|venv|virtualenv) {_REFUSE};; esac
    break
  fi
  case "$a" in -mpip*|-mensurepip*|-mvenv*|-mvirtualenv*) {_REFUSE};; -*) ;; *) break;; esac
  prev="$a"
done
"""
"""Before any interpreter of the workspace: ``-m pip``, ``-m venv`` … are refused."""


def _shims(ws: Path) -> Path:
    """``.venv/bin`` of the workspace: this promptship, and no way to install into its Python.

    ``python`` and ``promptship`` run the tests' interpreter with this tree's
    ``tools/`` first; ``python`` (and ``python3``) refuse ``-m pip``, ``-m venv``
    and the like, and ``pip``/``pip3`` refuse outright, so an example that
    slipped past :func:`examples.installs` still cannot reach ``sys.prefix``.
    """
    bin_dir = ws / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    tools = ROOT / "tools"
    system = shutil.which("python3") or "/usr/bin/python3"
    for name, text in {
        "python": f'#!/bin/sh\n{_GUARD}PYTHONPATH="{tools}" exec "{sys.executable}" "$@"\n',
        "python3": f'#!/bin/sh\n{_GUARD}exec "{system}" "$@"\n',
        "pip": f"#!/bin/sh\n{_REFUSE}\n",
        "pip3": f"#!/bin/sh\n{_REFUSE}\n",
        "promptship": f'#!/bin/sh\nPYTHONPATH="{tools}" exec "{sys.executable}" -m promptship "$@"\n',
        "activate": f'export PATH="{bin_dir}:$PATH"\n',
    }.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _installed() -> dict[str, str]:
    """What this interpreter's environment says about promptship, and any path it holds.

    The ``.pth`` files and ``direct_url.json`` of ``sys.prefix``'s site-packages
    (an editable install writes its source folder there) and the ``promptship``
    script of its ``bin``: compared before and after the examples run.
    """
    site = Path(sysconfig.get_paths()["purelib"])
    files = [*site.glob("*.pth"), *site.glob("*promptship*/direct_url.json")]
    files.append(Path(sys.prefix) / "bin" / "promptship")
    return {str(f): f.read_text("utf-8", "replace") for f in files if f.is_file()}


def _suite_inputs(ws: Path, prompt_id: str) -> dict[str, object]:
    suite = yamlio.load((ws / f"registry/{prompt_id}.evals.yaml").read_bytes(), "suite")
    inputs = suite.data["cases"][0]["inputs"]
    assert isinstance(inputs, dict)
    return inputs


def _clone(ws: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(ws)], check=True)
    for name in ("user.name", "user.email"):
        _git(ws, "config", name, "examples@promptship.test")
    _git(ws, "checkout", "-q", "-B", "main")
    for part in ("registry", "environments"):
        shutil.rmtree(ws / part)
        shutil.copytree(ROOT / part, ws / part)
    shutil.copy2(ROOT / "CODEOWNERS", ws / "CODEOWNERS")
    _git(ws, "add", "-A", "registry", "environments", "CODEOWNERS")
    if _git(ws, "status", "--porcelain", "registry", "environments", "CODEOWNERS"):
        _git(ws, "commit", "-q", "-m", "the working tree's registry")


def _gzip(plain: Path) -> None:
    plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()


def _app_log(ws: Path) -> None:
    """``events/app.jsonl.gz``: an application serving production's triage, responses kept."""
    from promptship import PromptClient
    from promptship.events.capture import ResponseCapture
    from promptship.events.sinks import JsonlSink

    suite = yamlio.load((ws / "registry/support/triage.evals.yaml").read_bytes(), "suite")
    cases = [c["inputs"] for c in suite.data["cases"]]
    out = ws / "events" / "app.jsonl"
    with PromptClient.from_bundle(
        ws / "dist/production.tar",
        env="production",
        allowed_signers=ws / "environments/allowed_signers",
        sink=JsonlSink(out),
        capture=ResponseCapture(),
    ) as client:
        for i in range(80):
            result = client.get("support/triage").render(**cases[i % len(cases)])
            answer = '{"category": "billing", "priority": "p3", "summary": "A question."}'
            client.record_outcome(result, latency_ms=400 + i, accepted=i % 4 != 0, response=answer)
    _gzip(out)


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The example registry in a clone, prepared as the module docstring says.

    On teardown, the tests' interpreter must be as it was: no ``.pth``,
    ``direct_url.json`` or ``promptship`` script of ``sys.prefix`` changed, none
    naming the workspace (what ``pip install -e`` from the clone would leave).
    """
    before = _installed()
    ws = tmp_path_factory.mktemp("examples") / "registry"
    _clone(ws)
    for env in ("staging", "production"):
        out = ws / f"{env}.key"
        _promptship(
            ws, "keys", "generate", "-o", out, "--env", env, "--comment", f"{env} example key"
        )
        line = (out.parent / f"{out.name}.pub").read_text().split()
        with (ws / "environments/allowed_signers").open("a") as f:
            f.write(f'{env}@promptship namespaces="promptship-bundle@v1,promptship-channel@v1,'
                    f'promptship-attestation@v1" {line[0]} {line[1]}\n')  # fmt: skip
    _git(ws, "commit", "-q", "-am", "release keys of the examples")
    for release in (1, 2):  # production pinned twice: rollback has a release to return to
        _promptship(ws, "promote", "production", "--to", "HEAD", "--branch", "main")
        _git(ws, "commit", "-q", "-am", f"Promote production to r{release}")
    from promptship.analytics.worked import write_registry_example

    plain = ws / "events" / "production.jsonl"
    write_registry_example(ws, plain)
    _gzip(plain)
    _git(ws, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(ws, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    bin_dir = _shims(ws)
    (ws / "inputs.json").write_text(json.dumps(_suite_inputs(ws, "growth/onboarding_email")))
    for env in ("staging", "production"):
        _promptship(
            ws, "bundle", "build", "--env", env, "-o", "dist", "--sign", "--key", f"{env}.key"
        )
        _promptship(ws, "publish", "--env", env, "--store", "store", "--key", f"{env}.key")
    _promptship(ws, "eval", "--bundle", "dist/staging.tar", "--prompt", "support/triage",
                "--out", "evals")  # fmt: skip
    _promptship(ws, "eval", "attest", "--report", "evals/report.json", "--bundle",
                "dist/staging.tar", "--key", "staging.key", "-o", "dist/staging.intoto.jsonl")  # fmt: skip
    _app_log(ws)
    home = ws.parent / "home"  # outside the work tree, as a user's is
    home.mkdir()
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_OUTPUT": str(ws / ".github-output"),
        "GITHUB_STEP_SUMMARY": str(ws / ".step-summary.md"),
        "BEFORE": _git(ws, "rev-parse", "HEAD~1"),
        "PROMPTSHIP_SIGNING_KEY": (ws / "production.key").read_text(),
    }
    yield ws, env
    after = _installed()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    changed |= {k for k, text in after.items() if str(ws.parent) in text}
    assert not changed, (
        f"the examples changed the interpreter at {sys.prefix}: {sorted(changed)}; "
        "tell the lead (the shared venv needs repairing), then mark the example `installs`"
    )


def _expected_exit(comment: str) -> int:
    m = re.search(r"\bexits (\d+)", comment)
    return int(m.group(1)) if m else 0


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append(pending + raw)
        pending = ""
    if pending:
        out.append(pending)
    return out


def _split(line: str) -> tuple[str, str]:
    """Code and trailing comment of a shell line (a ``#`` inside quotes is code)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        list(lexer)
    except ValueError:
        return line, ""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def _in_process(code: str) -> list[str] | None:
    """The argv of a plain ``promptship …`` line (no shell syntax), else ``None``."""
    if _SHELL.search(code.replace("'", "").replace('"', "")) and not _quoted_only(code):
        return None
    try:
        words = shlex.split(code)
    except ValueError:
        return None
    return words[1:] if words and words[0] == "promptship" else None


def _quoted_only(code: str) -> bool:
    """Whether every shell character of ``code`` sits inside quotes."""
    try:
        lexer = shlex.shlex(code, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return False
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", code)
    return bool(tokens) and not _SHELL.search(unquoted)


def _run_line(
    ws: Path, env: dict[str, str], code: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    argv = _in_process(code)
    if argv is None:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", code],
            cwd=ws,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        return done.returncode, done.stdout + done.stderr
    capsys.readouterr()
    cwd = Path.cwd()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.chdir(ws)
    try:
        code_ = main(argv)
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = capsys.readouterr()
    return code_, out.out + out.err


def _run_shell(
    ws: Path, env: dict[str, str], ex: Example, capsys: pytest.CaptureFixture[str]
) -> None:
    if _COMPOUND.search(ex.text):
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", ex.text],
            cwd=ws,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"{ex.where} failed:\n{ex.text}\n{done.stdout}{done.stderr}"
        return
    for line in _logical_lines(ex.text):
        code, comment = _split(line)
        if not code.strip():
            continue
        status, output = _run_line(ws, env, code, capsys)
        want = _expected_exit(comment)
        assert status == want, f"{ex.where}: `{code}` exited {status} (expected {want}):\n{output}"


def _run_console(
    ws: Path, env: dict[str, str], ex: Example, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ex.text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        shown = next((x for x in lines[i + 1 :] if x.strip()), "")
        fails = shown.startswith("error:") and not shown.startswith("$ ")
        status, output = _run_line(ws, env, line[2:], capsys)
        assert (status != 0) == fails, (
            f"{ex.where}: `{line[2:]}` exited {status}, the transcript shows "
            f"{'a failure' if fails else 'success'}:\n{output}"
        )


def _run_python(ws: Path, env: dict[str, str], ex: Example) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ex.text],
        cwd=ws,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "tools")},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, f"{ex.where} failed:\n{done.stdout}{done.stderr}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("example", ALL, ids=[e.id for e in ALL])
def test_example_runs(
    example: Example,
    workspace: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if example.skip is not None:
        pytest.skip(f"{example.skip}: {example.why}")
    assert not installs(example.text), (
        f"{example.where} installs packages or creates a virtual environment: not run; "
        "mark it <!-- example: skip installs: why -->"
    )
    ws, env = workspace
    if example.language == "python":
        _run_python(ws, env, example)
    elif example.language == "console":
        _run_console(ws, env, example, capsys)
    else:
        _run_shell(ws, env, example, capsys)


def test_every_skip_has_a_known_reason() -> None:
    """Every skip names a reason of ``examples.REASONS`` and says why; the tally is printed."""
    skipped = [e for e in ALL if e.skip is not None]
    unknown = [f"{e.where}: {e.skip}" for e in skipped if e.skip not in REASONS]
    assert not unknown, f"skips with a reason examples.REASONS does not list: {unknown}"
    assert all(e.why for e in skipped), [e.where for e in skipped if not e.why]
    tally = Counter(e.skip for e in skipped)
    print(
        f"{len(ALL)} examples, {len(ALL) - len(skipped)} run, skipped: {dict(sorted(tally.items()))}"
    )
    assert len(ALL) - len(skipped) > len(skipped)


def test_every_command_shows_an_example() -> None:
    """Each command a user runs (every leaf of the tree, and the root) has one in its help."""
    counts = help_has_examples(cli)
    top = click.Context(cli, info_name="promptship")
    groups = {ctx.command_path for cmd, ctx in commands(cli, top) if isinstance(cmd, click.Group)}
    missing = [path for path, n in counts.items() if n == 0 and path not in groups]
    assert not missing, f"commands whose --help shows no example: {missing}"


def test_no_example_that_installs_is_run() -> None:
    """An example that installs (pip, a venv, scripts/dev.py) is marked ``installs``, never run.

    ``python3 scripts/dev.py demo`` run in the clone once installed the clone
    into the tests' interpreter (``pip install -e`` through the ``.venv/bin/python``
    shim), re-pointing the shared promptship at a folder that was then deleted.
    """
    found = [e for e in ALL if installs(e.text)]
    assert {e.where for e in found} >= {"README.md:4", "docs/client.md:25"}
    wrong = [f"{e.where}: {e.skip}" for e in found if e.skip != "installs"]
    assert not wrong, f"examples that install, not marked `installs`: {wrong}"


@pytest.mark.parametrize(
    "command",
    [
        "python -m pip install -e .",
        "python -I -m pip install --upgrade pip",
        "python -mpip --version",
        "python -m venv .venv2",
        "python -m ensurepip",
        "python3 -m pip install --user promptship",
        "pip install -e .",
        "pip3 install promptship",
        "python3 scripts/dev.py demo",
        ".venv/bin/python -m pip install --quiet -e '.[dev]'",
    ],
)
def test_the_workspace_never_runs_pip_against_sys_prefix(tmp_path: Path, command: str) -> None:
    """Through the workspace's shims, pip and venv are refused before they start.

    ``scripts/dev.py`` (copied in with its ``pyproject.toml``) gets as far as
    ``.venv/bin/python -m pip`` and is refused there; nothing of ``sys.prefix``
    changes.
    """
    before = _installed()
    bin_dir = _shims(tmp_path)
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "dev.py", tmp_path / "scripts" / "dev.py")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "examples workspace: refused" in done.stderr
    assert _installed() == before
    assert not (tmp_path / ".venv2").exists()


def test_the_workspace_python_still_runs_python(tmp_path: Path) -> None:
    """The guard refuses only installing: scripts and ``-c`` run this promptship."""
    bin_dir = _shims(tmp_path)
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", "import promptship; print(promptship.__file__)"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == str(ROOT / "tools" / "promptship" / "__init__.py")


def _client_app() -> str:
    text = (ROOT / "docs" / "client.md").read_text("utf-8")
    found = re.search(r"<!-- example: app.py -->\n```python\n(.*?)\n```\n", text, re.DOTALL)
    assert found, "docs/client.md lost its example app (the fence after <!-- example: app.py -->)"
    return found.group(1) + "\n"


def test_the_client_app_runs(
    workspace: tuple[Path, dict[str, str]], chat_server: ChatServer, tmp_path: Path
) -> None:
    """docs/client.md's app, as written, on the example store served over HTTP.

    It follows production's channel, renders ``support/reply_draft``, asks a local
    chat-completions server (an echo) and logs render, outcome and feedback under
    one request id, the ticket kept out of the log.
    """
    ws, _ = workspace
    app = tmp_path / "app.py"
    app.write_text(_client_app())
    events = tmp_path / "events.jsonl"
    ticket = "My card 4111 1111 1111 1111 was charged twice"
    with StoreServer(ws / "store") as store:
        run = subprocess.run(
            [sys.executable, str(app), ticket],
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": str(ROOT / "tools"),
                "PROMPTSHIP_STORE": store.url,
                "PROMPTSHIP_ALLOWED_SIGNERS": str(ws / "environments" / "allowed_signers"),
                "PROMPTSHIP_CACHE": str(tmp_path / "cache"),
                "PROMPTSHIP_EVENTS": str(events),
                "OPENAI_BASE_URL": chat_server.base_url,
                "OPENAI_API_KEY": "sk-test-key",
            },
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert 'Open with "Hi Ada,"' in run.stdout  # the echo: the messages it was sent
    assert ticket in run.stdout
    assert "served by" in run.stderr
    (request,) = chat_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert [m["role"] for m in request.json["messages"]][-1] == "user"
    lines = [json.loads(line) for line in events.read_bytes().splitlines()]
    assert [e["type"] for e in lines] == ["render", "outcome", "feedback"]
    assert len({e["request_id"] for e in lines}) == 1
    assert lines[0]["inputs"]["customer_message"] == "[sensitive]"
    assert lines[1]["accepted"] is True
    assert lines[1]["tokens"]["input"] > 0
    assert b"4111" not in events.read_bytes()
