"""Run a GitHub Actions job's own steps locally: the pipeline test's runner.

Each ``run:`` step is executed as GitHub executes it (``bash --noprofile
--norc -eo pipefail``, in the workspace, with the workflow's, job's and
step's ``env:`` evaluated, ``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY`` and
``$GITHUB_ENV`` files, step ``if:`` conditions and job outputs). Steps that
``uses:`` an action are replaced by what the test provides: the checkout (a
clone of the test's origin at the event's commit), setup-python (nothing:
the test's interpreter), and the GitHub App token (a fake one). The step
with ``id: install`` is skipped: the test's promptship is already on PATH.

Expressions: literals, context paths (github, env, vars, secrets, steps,
needs, matrix), ``! == != && || ( )`` and ``success() failure() always()
cancelled() fromJSON()`` — what the workflows use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows import load

_TOKEN = re.compile(
    r"\s*(?:(?P<op>\|\||&&|==|!=|!|\(|\)|,)|(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_*-]+)*))"
)
_INTERP = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def _truthy(v: Any) -> bool:
    return v not in (None, False, 0, "") and v == v


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v)
    return str(v)


class _Expr:
    def __init__(self, text: str, context: Mapping[str, Any], status: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot read expression {text!r} at {pos}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m[kind]))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.context = context
        self.status = status

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        if self.i != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = left if _truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            left = right if _truthy(left) else left
        return left

    def cmp(self) -> Any:
        left = self.unary()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.unary()
            a, b = (x.lower() if isinstance(x, str) else x for x in (left, right))
            left = (a == b) if op == "==" else (a != b)
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not _truthy(self.unary())
        return self.atom()

    def atom(self) -> Any:
        kind, value = self.take()
        if value == "(":
            inner = self.or_()
            self.take()
            return inner
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value) if "." in value else int(value)
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take()
            return self.call(value, args)
        current: Any = self.context
        for part in value.split("."):
            current = current.get(part) if isinstance(current, Mapping) else None
        return current

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "always":
            return True
        if name == "cancelled":
            return False
        if name == "fromJSON":
            return json.loads(args[0])
        raise ValueError(f"unknown function {name}")


def evaluate(text: str, context: Mapping[str, Any], status: str = "success") -> Any:
    """The value of an expression (without ``${{ }}``)."""
    return _Expr(text, context, status).parse()


def interpolate(value: Any, context: Mapping[str, Any], status: str = "success") -> Any:
    """A YAML value with every ``${{ expr }}`` replaced (a whole-string expression keeps its type)."""
    if not isinstance(value, str):
        return value
    whole = _INTERP.fullmatch(value.strip())
    if whole:
        return evaluate(whole[1], context, status)
    return _INTERP.sub(lambda m: _text(evaluate(m[1], context, status)), value)


def _condition(step_if: Any, context: Mapping[str, Any], status: str) -> bool:
    if step_if is None:
        return status == "success"
    text = str(step_if).strip()
    m = _INTERP.fullmatch(text)
    expr = m[1] if m else text
    uses_status = re.search(r"\b(success|failure|always|cancelled)\(", expr)
    value = _truthy(evaluate(expr, context, status))
    return value if uses_status else value and status == "success"


def _outputs(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            key, delim = line.split("<<", 1)
            body = []
            i += 1
            while lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
        i += 1
    return out


@dataclass
class StepResult:
    """What one step did."""

    name: str
    outcome: str  # success, failure, skipped
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    """What a job did: its status, its steps, its outputs and its summary."""

    status: str
    steps: list[StepResult]
    outputs: dict[str, str]
    summary: str

    def step(self, name: str) -> StepResult:
        """The step with this name."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def explain(self) -> str:
        """Every step's outcome and, for failures, its output (for assertion messages)."""
        lines = []
        for s in self.steps:
            lines.append(f"[{s.outcome}] {s.name}")
            if s.outcome == "failure":
                lines.append(s.stdout[-3000:] + s.stderr[-3000:])
        return "\n".join(lines)


@dataclass
class Runner:
    """Runs jobs of the repository's workflows with a test-provided checkout and PATH."""

    bin_dir: Path
    base_env: dict[str, str]
    repository: str
    server_url: str

    def run_job(
        self,
        workflow: Path,
        job_id: str,
        *,
        workspace: Path,
        checkout: Callable[[Path], None],
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref: str = "refs/heads/main",
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        needs: Mapping[str, Any] | None = None,
        matrix: Mapping[str, Any] | None = None,
    ) -> JobResult:
        """Run one job; returns its result (it never raises for a failing step)."""
        doc = load(workflow)
        job = doc["jobs"][job_id]
        workspace.mkdir(parents=True, exist_ok=True)
        temp = workspace.parent / f"{workspace.name}-runner-temp"
        temp.mkdir(exist_ok=True)
        github = {
            "event_name": event_name,
            "event": event,
            "sha": sha,
            "ref": ref,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "token": "ghs_workflow_token",
            "server_url": self.server_url,
        }
        context: dict[str, Any] = {
            "github": github,
            "secrets": dict(secrets or {}),
            "vars": dict(variables or {}),
            "needs": dict(needs or {}),
            "matrix": dict(matrix or {}),
            "steps": {},
            "env": {},
        }
        env: dict[str, str] = {}
        for scope in (doc.get("env", {}), job.get("env", {})):
            for k, v in scope.items():
                context["env"] = {**context["env"], **env}
                env[k] = _text(interpolate(v, context))
        context["env"] = dict(env)
        status = "success"
        results: list[StepResult] = []
        summary_parts: list[str] = []
        for n, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses", f"step {n}")
            if not _condition(step.get("if"), context, status):
                results.append(StepResult(name, "skipped"))
                continue
            if step.get("id") == "install":
                results.append(StepResult(name, "skipped"))
                continue
            outputs: dict[str, str] = {}
            if "uses" in step:
                action = step["uses"].split("@")[0]
                if action == "actions/checkout":
                    checkout(workspace)
                elif action == "actions/create-github-app-token":
                    outputs = {"token": "ghs_app_installation_token"}
                elif action != "actions/setup-python":
                    raise ValueError(f"the runner cannot run {step['uses']}")
                result = StepResult(name, "success", outputs=outputs)
            else:
                result = self._run(step, name, n, context, env, workspace, temp, github)
                summary_parts.append(result.outputs.pop("\0summary", ""))
            results.append(result)
            if "id" in step:
                context["steps"][step["id"]] = {
                    "outputs": result.outputs,
                    "outcome": result.outcome,
                }
            if result.outcome == "failure":
                status = "failure"
        job_outputs = {
            k: _text(interpolate(v, context, status)) for k, v in job.get("outputs", {}).items()
        }
        return JobResult(status, results, job_outputs, "".join(summary_parts))

    def _run(
        self,
        step: Mapping[str, Any],
        name: str,
        n: int,
        context: dict[str, Any],
        env: dict[str, str],
        workspace: Path,
        temp: Path,
        github: Mapping[str, Any],
    ) -> StepResult:
        step_env = dict(env)
        for k, v in step.get("env", {}).items():
            step_env[k] = _text(interpolate(v, {**context, "env": step_env}))
        files = {key: temp / f"{key.lower()}-{n}" for key in ("OUTPUT", "STEP_SUMMARY", "ENV")}
        for f in files.values():
            f.write_text("")
        script = temp / f"step-{n}.sh"
        script.write_text(interpolate(step["run"], {**context, "env": step_env}))
        full_env = {
            **self.base_env,
            **step_env,
            "PATH": f"{self.bin_dir}{os.pathsep}{self.base_env['PATH']}",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_SHA": github["sha"],
            "GITHUB_REF": github["ref"],
            "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_SERVER_URL": self.server_url,
            "GITHUB_OUTPUT": str(files["OUTPUT"]),
            "GITHUB_STEP_SUMMARY": str(files["STEP_SUMMARY"]),
            "GITHUB_ENV": str(files["ENV"]),
            "RUNNER_TEMP": str(temp),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        outputs = _outputs(files["OUTPUT"])
        for k, v in _outputs(files["ENV"]).items():
            env[k] = v
        outputs["\0summary"] = files["STEP_SUMMARY"].read_text()
        outcome = "success" if done.returncode == 0 else "failure"
        return StepResult(name, outcome, done.stdout, done.stderr, outputs)
