"""Run a GitHub Actions workflow's own jobs and steps locally: the pipeline test's runner.

:meth:`Runner.run_workflow` reads the workflow file **from the commit under
test** (``git show SHA:PATH`` in the test's origin, as GitHub reads the
pushed commit's or the pull request merge commit's workflow), decides whether
the event triggers it (``branches`` and ``paths`` filters with GitHub's glob
semantics: ``*`` never matches ``/``, ``**`` matches anything, ``!`` negates),
then runs its jobs in ``needs`` order, evaluating each job-level ``if:``
(``success()`` means every needed job succeeded) and expanding ``matrix`` legs
(``fromJSON`` of a needed job's output); each leg gets the secrets of the
GitHub environment it names.

Each ``run:`` step is executed as GitHub executes it (``bash --noprofile
--norc -eo pipefail``, in the workspace, with the workflow's, job's and
step's ``env:`` evaluated, ``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``,
``$GITHUB_ENV`` and ``$GITHUB_PATH`` files, step ``if:`` conditions and job
outputs), the install step included: the workflows install promptship from
the commit under test into ``$RUNNER_TEMP`` and put it on ``$GITHUB_PATH``.
Steps that ``uses:`` a GitHub-provided action are replaced by what the test
provides: the checkout (a clone of the test's origin at the event's commit),
setup-python (nothing: the test's interpreter is ``python``), and the GitHub
App token (a fake one). Any other ``uses: OWNER/REPO[/PATH]@REF`` (or a local
``./PATH``) is a composite action, run as GitHub runs one: the repository at
``REF`` comes from the test's ``actions`` resolver (GitHub downloads it),
``action.yml``'s ``inputs`` take the step's ``with:`` values or their
defaults, each of its ``runs.steps`` runs with its required ``shell:``, its
own ``steps`` context, ``inputs``, ``github.action_path`` and
``$GITHUB_ACTION_PATH``, step ``if:`` and ``env:``; what they add to
``$GITHUB_PATH``, ``$GITHUB_ENV`` and the summary reaches the job, and the
action's ``outputs`` are evaluated from its steps' outputs.

Expressions: literals, context paths (github, env, vars, secrets, steps,
needs, matrix, runner), ``! == != && || ( )`` and ``success() failure()
always() cancelled() fromJSON()`` — what the workflows use.
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

from ruamel.yaml import YAML

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


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A GitHub filter pattern as a regex: ``*`` stays within a path segment, ``**`` does not."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matches_filters(patterns: list[str], values: list[str]) -> bool:
    """Whether any value is selected by GitHub's ordered include/``!``exclude patterns."""
    for value in values:
        selected = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if glob_regex(pattern.removeprefix("!")).match(value):
                selected = not negate
        if selected:
            return True
    return False


def triggered(on: Any, event_name: str, ref: str, changed: list[str] | None) -> bool:
    """Whether ``event_name`` (on ``ref``, changing ``changed``) runs a workflow with this ``on:``."""
    if isinstance(on, str):
        return on == event_name
    if isinstance(on, list):
        return event_name in on
    if event_name not in on:
        return False
    spec = on[event_name] or {}
    branches = spec.get("branches")
    branch = [ref.removeprefix("refs/heads/")]
    if branches is not None and event_name == "push" and not matches_filters(branches, branch):
        return False
    paths = spec.get("paths")
    if paths is not None and changed is not None:
        return matches_filters(list(paths), changed)
    return True


_PROVIDED = ("actions/checkout", "actions/setup-python", "actions/create-github-app-token")


def _provided(uses: str) -> bool:
    """Whether the test provides this action's effect itself (it is not run)."""
    return uses.split("@", maxsplit=1)[0] in _PROVIDED


@dataclass
class _Run:
    """What a step of a job runs with: the job's contexts, environment, PATH and folders."""

    context: dict[str, Any]
    env: dict[str, str]
    path: list[str]
    workspace: Path
    temp: Path
    github: Mapping[str, Any]


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
    actions: Callable[[str, str], Path] | None = None
    """``(OWNER/REPO, REF)`` → a folder holding that repository at ``REF`` (composite actions)."""

    def run_job(
        self,
        workflow: Path | Mapping[str, Any],
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
        doc = load(workflow) if isinstance(workflow, Path) else workflow
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
            "runner": {"temp": str(temp), "os": "Linux"},
            "github": github,
            "secrets": dict(secrets or {}),
            "vars": dict(variables or {}),
            "needs": dict(needs or {}),
            "matrix": dict(matrix or {}),
            "steps": {},
            "env": {},
        }
        env: dict[str, str] = {}
        path: list[str] = []
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
            outputs: dict[str, str] = {}
            if "uses" in step and not _provided(step["uses"]):
                run = _Run(context, env, path, workspace, temp, github)
                result = self._composite(step, name, n, run)
                summary_parts.append(result.outputs.pop("\0summary", ""))
            elif "uses" in step:
                action = step["uses"].split("@")[0]
                if action == "actions/checkout":
                    checkout(workspace)
                elif action == "actions/create-github-app-token":
                    outputs = {"token": "ghs_app_installation_token"}
                result = StepResult(name, "success", outputs=outputs)
            else:
                result = self._run(step, name, n, context, env, path, workspace, temp, github)
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

    def _composite(self, step: Mapping[str, Any], name: str, n: int, run: _Run) -> StepResult:
        """A composite action: its steps in its own context, its outputs from theirs."""
        uses = str(step["uses"])
        folder = self._action_folder(uses, run.workspace)
        meta = load(next(p for p in (folder / "action.yml", folder / "action.yaml") if p.exists()))
        if meta["runs"].get("using") != "composite":
            raise ValueError(f"the runner runs composite actions only, not {uses}")
        step_env = dict(run.env)
        for k, v in step.get("env", {}).items():
            step_env[k] = _text(interpolate(v, {**run.context, "env": step_env}))
        given = step.get("with") or {}
        inputs = {
            key: _text(interpolate(given.get(key, spec.get("default", "")), run.context))
            for key, spec in (meta.get("inputs") or {}).items()
        }
        context: dict[str, Any] = {
            **run.context,
            "github": {**run.github, "action_path": str(folder)},
            "inputs": inputs,
            "steps": {},
            "env": step_env,
            "secrets": {},
        }
        status, stdout, stderr, summary = "success", [], [], []
        for k, inner in enumerate(meta["runs"]["steps"]):
            if not _condition(inner.get("if"), context, status):
                continue
            if "uses" in inner:
                if inner["uses"].split("@")[0] != "actions/setup-python":
                    raise ValueError(f"the runner cannot run {inner['uses']} inside {uses}")
                continue
            if inner.get("shell") != "bash":
                raise ValueError(f"a composite step needs shell: bash ({uses}, step {k})")
            done = self._run(
                inner, name, f"{n}-{k}", context, step_env, run.path, run.workspace, run.temp,
                run.github, {"GITHUB_ACTION_PATH": str(folder)},
            )  # fmt: skip
            stdout.append(done.stdout)
            stderr.append(done.stderr)
            summary.append(done.outputs.pop("\0summary", ""))
            if "id" in inner:
                context["steps"][inner["id"]] = {"outputs": done.outputs, "outcome": done.outcome}
            if done.outcome == "failure":
                status = "failure"
        outputs = {
            key: _text(interpolate(spec.get("value", ""), context, status))
            for key, spec in (meta.get("outputs") or {}).items()
        }
        outputs["\0summary"] = "".join(summary)
        return StepResult(name, status, "".join(stdout), "".join(stderr), outputs)

    def _action_folder(self, uses: str, workspace: Path) -> Path:
        if uses.startswith("./"):
            return workspace / uses[2:]
        target, _, ref = uses.partition("@")
        owner, repo, *sub = target.split("/")
        if self.actions is None or not ref:
            raise ValueError(f"the runner cannot run {uses} (no actions resolver, or no @ref)")
        return self.actions(f"{owner}/{repo}", ref).joinpath(*sub)

    def _run(
        self,
        step: Mapping[str, Any],
        name: str,
        n: int | str,
        context: dict[str, Any],
        env: dict[str, str],
        path: list[str],
        workspace: Path,
        temp: Path,
        github: Mapping[str, Any],
        extra_env: Mapping[str, str] | None = None,
    ) -> StepResult:
        step_env = dict(env)
        for k, v in step.get("env", {}).items():
            step_env[k] = _text(interpolate(v, {**context, "env": step_env}))
        files = {
            key: temp / f"{key.lower()}-{n}" for key in ("OUTPUT", "STEP_SUMMARY", "ENV", "PATH")
        }
        for f in files.values():
            f.write_text("")
        script = temp / f"step-{n}.sh"
        script.write_text(interpolate(step["run"], {**context, "env": step_env}))
        full_env = {
            **self.base_env,
            **step_env,
            "PATH": os.pathsep.join([*path, str(self.bin_dir), self.base_env["PATH"]]),
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
            "GITHUB_PATH": str(files["PATH"]),
            "RUNNER_TEMP": str(temp),
            **(extra_env or {}),
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
        added = [line for line in files["PATH"].read_text().splitlines() if line.strip()]
        path[:0] = reversed(added)
        outputs["\0summary"] = files["STEP_SUMMARY"].read_text()
        outcome = "success" if done.returncode == 0 else "failure"
        return StepResult(name, outcome, done.stdout, done.stderr, outputs)


@dataclass
class WorkflowResult:
    """What a workflow run did: each job's result (a matrix job: one per leg)."""

    jobs: dict[str, list[JobResult]]

    def job(self, job_id: str, leg: int = 0) -> JobResult:
        """One job's result (``leg``: which matrix leg)."""
        return self.jobs[job_id][leg]

    @property
    def status(self) -> str:
        """``failure`` when any job failed, else ``success``."""
        bad = any(j.status == "failure" for legs in self.jobs.values() for j in legs)
        return "failure" if bad else "success"

    def explain(self) -> str:
        """Every job's steps, for assertion messages."""
        return "\n".join(
            f"== {job_id}\n{j.explain()}" for job_id, legs in self.jobs.items() for j in legs
        )


def read_workflow(origin: Path, sha: str, path: str) -> Any:
    """A workflow file's data as committed at ``sha`` in the repository ``origin``."""
    done = subprocess.run(
        ["git", "show", f"{sha}:{path}"], cwd=origin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    return YAML(typ="safe").load(done.stdout)


def _order(jobs: Mapping[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        for job_id, job in jobs.items():
            needs = job.get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            if job_id not in done and all(n in done for n in needs):
                done.append(job_id)
    return done


def _needs_context(
    job: Mapping[str, Any], results: Mapping[str, list[JobResult]]
) -> dict[str, Any]:
    needs = job.get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    out = {}
    for n in needs:
        legs = results[n]
        status = (
            "skipped"
            if all(j.status == "skipped" for j in legs)
            else ("failure" if any(j.status == "failure" for j in legs) else "success")
        )
        out[n] = {"outputs": legs[-1].outputs if legs else {}, "result": status}
    return out


def _job_runs(job: Mapping[str, Any], needs: Mapping[str, Any]) -> bool:
    """The job-level ``if:``; without one, every needed job must have succeeded."""
    status = "success" if all(v["result"] == "success" for v in needs.values()) else "failure"
    condition = job.get("if")
    if condition is None:
        return status == "success"
    return _condition(condition, {"needs": needs}, status)


def _legs(job: Mapping[str, Any], needs: Mapping[str, Any]) -> list[dict[str, Any]]:
    matrix = (job.get("strategy") or {}).get("matrix")
    if matrix is None:
        return [{}]
    axes = {k: interpolate(v, {"needs": needs}) for k, v in matrix.items()}
    legs: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        legs = [{**leg, key: value} for leg in legs for value in values]
    return legs


@dataclass
class WorkflowRun:
    """One event, as the test hands it to :meth:`Runner.run_workflow`.

    Attributes:
        origin: The repository GitHub holds (a bare clone).
        path: The workflow file's path in it.
        event_name: ``push``, ``pull_request``, ``merge_group``, ``schedule`` …
        event: The event payload.
        sha: The commit the event is about (the merge commit for a pull request).
        ref: ``github.ref``.
        changed: The paths the push changes (for ``paths:`` filters).
        checkout: Fills a job's workspace (actions/checkout).
        secrets_for: The secrets of a GitHub environment (``None``: no environment).
        variables: Repository variables.
        workspace_root: Where job workspaces go.
    """

    origin: Path
    path: str
    event_name: str
    event: dict[str, Any]
    sha: str
    ref: str
    changed: list[str] | None
    checkout: Callable[[Path], None]
    secrets_for: Callable[[str | None], Mapping[str, str]]
    variables: Mapping[str, str]
    workspace_root: Path


def run_workflow(runner: Runner, run: WorkflowRun) -> WorkflowResult | None:
    """Run a workflow as committed at ``run.sha``; ``None`` when the event does not trigger it."""
    doc = read_workflow(run.origin, run.sha, run.path)
    if doc is None or not triggered(doc["on"], run.event_name, run.ref, run.changed):
        return None
    results: dict[str, list[JobResult]] = {}
    name = Path(run.path).stem
    for job_id in _order(doc["jobs"]):
        job = doc["jobs"][job_id]
        needs = _needs_context(job, results)
        if not _job_runs(job, needs):
            results[job_id] = [JobResult("skipped", [], {}, "")]
            continue
        legs = []
        for i, matrix in enumerate(_legs(job, needs)):
            environment = interpolate(job.get("environment"), {"matrix": matrix})
            legs.append(
                runner.run_job(
                    doc,
                    job_id,
                    workspace=run.workspace_root / f"{name}-{job_id}-{i}",
                    checkout=run.checkout,
                    event_name=run.event_name,
                    event=run.event,
                    sha=run.sha,
                    ref=run.ref,
                    secrets=run.secrets_for(environment),
                    variables=run.variables,
                    needs=needs,
                    matrix=matrix,
                )
            )
        results[job_id] = legs
    return WorkflowResult(results)
