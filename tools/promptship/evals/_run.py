"""Running a plan: render each case as the client would, ask the provider, check the answer.

Cases run on ``concurrency`` worker threads, each taking the next case as soon
as its last one is checked (providers are thread-safe and do their own I/O);
every case's outcome, including a failure to render or to reach the model, is
a value: one bad case never stops the run. Assertion specs are compiled once
per target before anything is sent, so a typo fails the run before it costs.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptship.assertions import (
    AssertionResult,
    CompiledAssertion,
    JudgeVerdict,
    ResponseLike,
    compile_assertion,
)
from promptship.core import jsonlimits
from promptship.core.budget import RenderLimits
from promptship.core.errors import EvalError, PromptshipError, UsageError
from promptship.core.render import CompiledPrompt, Rendered
from promptship.core.templates import TemplateEngine
from promptship.evals._plan import Plan, Shard, Target
from promptship.evals._source import PromptSource
from promptship.evals._suite import Case, Check
from promptship.evals.providers import ApiRequest, ChatRequest, ChatResponse, Provider, Request

__all__ = ["CaseResult", "Judging", "Progress", "SuiteOutcome", "run_plan"]

Progress = Callable[[int, int, int], None]
"""Called after each case with (cases done, cases to run, cases failed so far)."""

MAX_JUDGE_ANSWER = 1_000_000
"""A judge's answer is a small JSON object; anything longer is refused unparsed."""

MAX_RESPONSE_CHARS = 20_000
"""Longest response a report keeps (``eval --responses``); longer ones are cut, and say so."""


def _kept(text: str) -> str:
    if len(text) <= MAX_RESPONSE_CHARS:
        return text
    return text[:MAX_RESPONSE_CHARS] + f"…[truncated, {len(text)} chars in all]"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case.

    Attributes:
        case: The case id.
        ok: Every assertion passed and nothing failed.
        assertions: One ``{"type", "ok", "message"}`` (plus ``name``, ``score``) per assertion.
        latency_ms: The model call's latency, when it answered.
        cost_usd: Its cost, when known.
        cached: Whether the answer came from the response cache.
        error: Why the case could not be checked (render, provider or judge failure).
        response: The model's answer (cut at :data:`MAX_RESPONSE_CHARS`), when it answered.
    """

    case: str
    ok: bool
    assertions: tuple[Mapping[str, Any], ...] = ()
    latency_ms: float | None = None
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    response: str | None = None

    def to_dict(self, *, responses: bool = False) -> dict[str, Any]:
        """The report's form of a result (with the response when ``responses`` and it answered)."""
        out = {
            "case": self.case,
            "ok": self.ok,
            "assertions": [dict(a) for a in self.assertions],
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
            "cached": self.cached,
            "error": self.error,
        }
        if responses and self.response is not None:
            out["response"] = self.response
        return out


@dataclass(frozen=True)
class Judging:
    """Who grades ``llm-judge`` assertions when it is not the provider under test.

    Attributes:
        provider: The judge's provider (its own API: the judge prompt is rendered for it).
        model: Send judge requests to this model instead of the judge prompt's.
    """

    provider: Provider
    model: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    """A target's results in this shard, sorted by case id, and its skipped cases."""

    target: Target
    results: tuple[CaseResult, ...]
    skipped: int


@dataclass(frozen=True)
class _Prepared:
    target: Target
    compiled: CompiledPrompt
    parameters: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    _assertions: dict[int, CompiledAssertion] = field(default_factory=dict, compare=False)

    def assertion(self, check: Check) -> CompiledAssertion:
        """The check compiled for this target's view (once; shared by the cases using it)."""
        found = self._assertions.get(id(check))
        if found is None:
            try:
                found = compile_assertion(check.spec, output_schema=self.output_schema)
            except EvalError as e:
                raise EvalError(
                    f"{self.target.suite.path}: {self.target.label()}: {e.message}", hint=e.hint
                ) from e
            found = self._assertions.setdefault(id(check), found)
        return found


@dataclass(frozen=True)
class _Unit:
    prep: _Prepared
    case: Case
    checks: tuple[Check, ...]


def _assertion_dict(result: AssertionResult, spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": result.kind, "ok": result.passed, "message": result.message}
    name = spec.get("name")
    if isinstance(name, str):
        out["name"] = name
    if result.score is not None:
        out["score"] = result.score
    return out


def _verdict(text: str, judge_id: str) -> JudgeVerdict:
    """A judge's answer as a verdict: a JSON object with ``score`` in [0, 1] and maybe ``reason``."""
    shown = text[:80] + ("..." if len(text) > 80 else "")
    data: Any = None
    if len(text) <= MAX_JUDGE_ANSWER:
        try:
            data = jsonlimits.loads(text)
        except (ValueError, RecursionError):
            data = None
    score = data.get("score") if isinstance(data, dict) else None
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
        raise EvalError(
            f"judge {judge_id} answered {shown!r}, not a JSON object with a score in [0, 1]",
            hint='the judge prompt must ask for {"score": 0..1, "reason": "..."} '
            "(output.format: json)",
        )
    reason = data.get("reason") if isinstance(data, dict) else None
    return JudgeVerdict(float(score), reason if isinstance(reason, str) else "")


class _Runner:
    def __init__(
        self,
        source: PromptSource,
        provider: Provider,
        model: str | None,
        judging: Judging | None = None,
    ) -> None:
        self.source = source
        self.provider = provider
        self.model = model
        self.judging = judging or Judging(provider, model)
        self._judges: dict[tuple[str, str], CompiledPrompt] = {}
        self._lock = threading.Lock()

    def request(
        self,
        rendered: Rendered,
        extra: Mapping[str, Any],
        provider: Provider | None = None,
        model: str | None = None,
    ) -> Request:
        """The request for this provider's API: ``extra`` parameters and ``--model`` laid over.

        An OpenAI-compatible provider (``api`` ``openai``, the default) gets
        ``to_openai()`` as a :class:`ChatRequest`; one that names an API gets
        ``to_api(api)`` as an :class:`ApiRequest`, so the judge and every case
        go out in that API's own shape.
        """
        if extra:
            rendered.parameters = {**rendered.parameters, **extra}
        if provider is None:
            provider, model = self.provider, self.model
        if model is not None:
            rendered.model = model
        api = str(getattr(provider, "api", "openai"))
        if api == "openai":
            return ChatRequest.from_openai(rendered.to_openai())
        return ApiRequest(api, rendered.model, rendered.to_api(api))

    def judge_prompt(self, judge_id: str, env: str) -> CompiledPrompt:
        key = (judge_id, env)
        with self._lock:
            found = self._judges.get(key)
        if found is None:
            doc = self.source.document(judge_id, env)
            limits = render_limits(self.source, env)
            found = CompiledPrompt(doc["view"], TemplateEngine(doc["fragments"], limits))
            with self._lock:
                found = self._judges.setdefault(key, found)
        return found

    def judge(
        self, target: Target, case: Case
    ) -> Callable[[Mapping[str, Any], ResponseLike], JudgeVerdict]:
        def judge(spec: Mapping[str, Any], response: ResponseLike) -> JudgeVerdict:
            judge_id = str(spec["prompt"])
            compiled = self.judge_prompt(judge_id, target.env)
            declared = compiled.view["inputs"].get("properties", {})
            offered: dict[str, Any] = {
                "answer": response.text,
                "criteria": spec.get("criteria", ""),
                "inputs": json.dumps(case.inputs, ensure_ascii=False, sort_keys=True),
                "prompt_id": target.prompt_id,
            }
            extra = spec.get("inputs")
            if isinstance(extra, Mapping):
                offered.update(extra)
            rendered = compiled.render({k: v for k, v in offered.items() if k in declared})
            judging = self.judging
            answer = judging.provider.complete(
                self.request(rendered, {}, judging.provider, judging.model)
            )
            return _verdict(answer.text, judge_id)

        return judge

    def run(self, unit: _Unit) -> CaseResult:
        case, prep = unit.case, unit.prep
        try:
            rendered = prep.compiled.render(case.inputs)
            response: ChatResponse = self.provider.complete(self.request(rendered, prep.parameters))
        except PromptshipError as e:
            return CaseResult(case.id, False, error=str(e))
        latency = round(response.latency_ms, 3)
        try:
            checks = [prep.assertion(c) for c in unit.checks]
            judge = self.judge(prep.target, case) if any(a.needs_judge for a in checks) else None
            results = [_assertion_dict(a.evaluate(response, judge=judge), a.spec) for a in checks]
        except PromptshipError as e:
            return CaseResult(
                case.id,
                False,
                (),
                latency,
                response.cost_usd,
                response.cached,
                str(e),
                _kept(response.text),
            )
        ok = all(r["ok"] for r in results)
        return CaseResult(
            case.id,
            ok,
            tuple(results),
            latency,
            response.cost_usd,
            response.cached,
            None,
            _kept(response.text),
        )


def _view_dependent(check: Check) -> bool:
    """A check whose meaning depends on the view: ``json-schema`` against its output schema."""
    return check.spec.get("type") == "json-schema" and "schema" not in check.spec


def render_limits(source: PromptSource, env: str) -> RenderLimits:
    """The render budget ``env``'s policy sets (cases render as the client renders them).

    Raises:
        EvalError: The policy's ``render_budget`` is malformed.
    """
    try:
        return RenderLimits.from_policy(source.policy(env))
    except ValueError as e:
        raise EvalError(f"environment '{env}': {e}") from None


def _prepare(
    target: Target, shard: Shard, live: bool, limits: RenderLimits
) -> tuple[_Prepared, list[_Unit], int]:
    """The target's compiled prompt and its cases in this shard (and how many were skipped).

    Checks that depend on the view are compiled here, so one that cannot run
    on this view stops the run before any request; the others (already
    compiled once by ``validate``) compile on the worker threads, overlapping
    the model calls, and a failure there fails its case.
    """
    view = target.view
    output = view.get("output")
    schema = output.get("schema") if isinstance(output, Mapping) else None
    prep = _Prepared(
        target,
        CompiledPrompt(view, TemplateEngine(target.document["fragments"], limits)),
        target.suite.parameters,
        schema if isinstance(schema, Mapping) else None,
    )
    units: list[_Unit] = []
    skipped = 0
    for case in target.suite.cases:
        if not shard.owns(target.prompt_id, target.env, target.variant, case.id):
            continue
        checks = case.runnable_checks(live=live)
        if checks is None:
            skipped += 1
            continue
        for check in checks:
            if _view_dependent(check):
                prep.assertion(check)
        units.append(_Unit(prep, case, checks))
    if units:
        _warm(prep.compiled, units[0].case.inputs)
    return prep, units, skipped


def _warm(compiled: CompiledPrompt, inputs: Mapping[str, Any]) -> None:
    """Compile the prompt's templates and input check now, once (about 1 ms).

    Left to the first render, every worker would compile them at once, one
    after another under the interpreter lock, and the first calls would all
    wait. A render that fails here fails again on its worker, as its case.
    """
    with contextlib.suppress(PromptshipError):
        compiled.render(inputs)


def run_plan(  # noqa: PLR0913 - the run options of the eval command, all keyword-only
    plan: Plan,
    source: PromptSource,
    provider: Provider,
    *,
    concurrency: int = 8,
    shard: Shard | None = None,
    live: bool | None = None,
    model: str | None = None,
    progress: Progress | None = None,
    judge: Judging | None = None,
) -> list[SuiteOutcome]:
    """Run every case of the plan that falls in ``shard``.

    Args:
        plan: What to run.
        source: Where judge prompts are read (the source the plan came from).
        provider: Answers the requests (wrap it in a ``CachingProvider`` to cache).
        concurrency: Cases in flight at once.
        shard: Run only this shard's cases (default: all).
        live: Whether the provider is a real model (``live`` cases run, ``echo``
            cases are skipped) or not; default: true unless it is the echo provider.
        model: Send every request to this model instead of the prompt's.
        progress: Told after each case.
        judge: Grades ``llm-judge`` assertions (default: ``provider`` and ``model``).

    Returns:
        One outcome per target with at least one case (run or skipped) in the shard.

    Raises:
        EvalError: An assertion spec does not compile for the view it runs on.
        UsageError: ``concurrency`` is below 1.
    """
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    shard = shard or Shard()
    is_live = provider.name != "echo" if live is None else live
    prepared = [_prepare(t, shard, is_live, render_limits(source, t.env)) for t in plan.targets]
    units = [u for _, us, _ in prepared for u in us]
    runner = _Runner(source, provider, model, judge)
    results = _run_units(units, runner, concurrency, progress)
    by_unit = {id(u): r for u, r in zip(units, results, strict=True)}
    outcomes: list[SuiteOutcome] = []
    for prep, us, skipped in prepared:
        if us or skipped:
            ordered = sorted((by_unit[id(u)] for u in us), key=lambda r: r.case)
            outcomes.append(SuiteOutcome(prep.target, tuple(ordered), skipped))
    return outcomes


class _Pump:
    """Hands out units to worker threads and collects their results in order.

    Each worker takes the next unit as soon as its last one is checked, so
    ``concurrency`` cases stay in flight until the units run out: no batch,
    no future per case, nothing the calling thread must wake up for.
    """

    def __init__(self, units: list[_Unit], runner: _Runner, progress: Progress | None) -> None:
        self.units = units
        self.runner = runner
        self.progress = progress
        self.results: list[CaseResult | None] = [None] * len(units)
        self.error: BaseException | None = None
        self._next = iter(range(len(units))).__next__  # atomic under the interpreter lock
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0

    def work(self) -> None:
        """Run units until none is left (or another worker failed unexpectedly)."""
        run, units, results = self.runner.run, self.units, self.results
        try:
            while self.error is None:
                try:
                    i = self._next()
                except StopIteration:
                    return
                result = results[i] = run(units[i])
                if self.progress is not None:
                    self._tell(result)
        except BaseException as e:  # a bug, not a case's failure: stop and re-raise it
            self.error = self.error or e

    def _tell(self, result: CaseResult) -> None:
        assert self.progress is not None
        with self._lock:  # one call at a time, counts in order
            self._done += 1
            self._failed += not result.ok
            self.progress(self._done, len(self.units), self._failed)


def _run_units(
    units: list[_Unit], runner: _Runner, concurrency: int, progress: Progress | None
) -> list[CaseResult]:
    """Every unit's result, in order, run ``concurrency`` at a time; ``progress`` told of each.

    Raises:
        BaseException: Whatever a case raised that is not a ``PromptshipError`` (a bug).
    """
    if not units:
        return []
    pump = _Pump(units, runner, progress)
    # What exists now (the plan, the prompts, the suites) outlives the run: a
    # full collection walking it stops every worker for tens of milliseconds.
    # Someone else's frozen objects are left frozen.
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        _work(pump, concurrency)
    finally:
        if freeze:
            gc.unfreeze()
    if pump.error is not None:
        raise pump.error
    return [r for r in pump.results if r is not None]


def _work(pump: _Pump, concurrency: int) -> None:
    """Run ``pump`` on ``concurrency`` worker threads (fewer for fewer units) until it is done."""
    workers = [
        threading.Thread(target=pump.work, name=f"promptship-eval-{n}", daemon=True)
        for n in range(min(concurrency, len(pump.units)))
    ]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            worker.join()
    except BaseException as e:  # Ctrl-C while waiting: start no more cases
        pump.error = e
        raise
