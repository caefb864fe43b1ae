"""``promptship review sample`` (use case): draw a queue from logged requests or eval outputs.

:func:`sample_queue` reads the registry (the working tree, or ``--ref``) for
rubrics, suites and prompt content, draws the sample (:func:`promptship.review.sample.draw`),
renders each drawn item's prompt with the inputs a reviewer may see, and
writes the queue file. The seed is an argument: the command line makes one
up when none is given, and the queue records it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptship.core.errors import GitError, UsageError
from promptship.core.model import RegistryFiles
from promptship.core.rubric import Rubric, parse_rubric
from promptship.evals import BundleSource, PromptSource, RegistrySource, load_report, load_suites
from promptship.events.redact import redact_inputs
from promptship.git import GitRepo, open_repository
from promptship.registry import load_files
from promptship.registry.files import DirectorySnapshot, find_root
from promptship.release import build, bundle
from promptship.review import from_evals, from_events
from promptship.review._jsonl import read_capped
from promptship.review.queue import MAX_ITEMS, MAX_TEXT, Item, QueueHeader, write_queue
from promptship.review.render import PromptDocs, render_for_review
from promptship.review.sample import STRATA_FIELDS, Candidate, draw, stratum_label

__all__ = ["SampleRequest", "Sampled", "sample_queue"]

_MAX_REPORT = 64 * 1024 * 1024
_MAX_BUNDLE = 512 * 1024 * 1024


@dataclass(frozen=True)
class SampleRequest:
    """What ``review sample`` is asked to draw.

    Attributes:
        output: The queue file to write.
        seed: The seed of the draw.
        events: Event logs to draw logged requests from, or
        evals: an eval report (``eval --responses``) to draw eval outputs from.
        prompt: The prompt (required for events).
        env, version, variant: Draw only from these.
        n: The sample size.
        stratify: Fields to stratify by (``version``, ``variant``, …).
        root: A folder of the registry repository (default: the current one).
        ref: Read the registry at this git ref (default: the working tree).
        bundles: Bundles to find the rendered prompts' content in.
    """

    output: Path
    seed: str
    events: tuple[Path, ...] = ()
    evals: Path | None = None
    prompt: str | None = None
    env: str | None = None
    version: str | None = None
    variant: str | None = None
    n: int = 50
    stratify: tuple[str, ...] = ()
    root: Path | None = None
    ref: str | None = None
    bundles: tuple[Path, ...] = field(default_factory=tuple)

    def check(self) -> None:
        """Refuse contradictory or out-of-range options.

        Raises:
            UsageError: With what to change.
        """
        if bool(self.events) == (self.evals is not None):
            raise UsageError("give event logs (EVENTS…) or --evals REPORT, not both or neither")
        if self.events and not self.prompt:
            raise UsageError("sampling logged requests needs --prompt ID")
        if not 1 <= self.n <= MAX_ITEMS:
            raise UsageError(f"--n must be from 1 to {MAX_ITEMS}")
        unknown = [s for s in self.stratify if s not in STRATA_FIELDS]
        if unknown or len(set(self.stratify)) != len(self.stratify):
            raise UsageError(
                f"cannot stratify by {', '.join(unknown) or 'a field twice'}",
                hint=f"stratify by any of {', '.join(STRATA_FIELDS)}",
            )
        if not 0 < len(self.seed) <= 64:
            raise UsageError("--seed must be 1 to 64 characters")


@dataclass(frozen=True)
class Sampled:
    """A queue written: where, its digest, what was drawn from how many, per stratum."""

    path: Path
    digest: str
    kind: str
    items: int
    candidates: int
    strata: Mapping[str, tuple[int, int]]
    seed: str


class _Registry:
    """The registry read once: its files (validated), suites, rubrics and prompt sources."""

    def __init__(self, root: Path | None, ref: str | None) -> None:
        found = find_root(root or Path.cwd())
        repo: GitRepo | None
        try:
            repo = open_repository(found)
        except GitError:
            repo = None
        if ref is not None and repo is None:
            raise UsageError("--ref needs a git repository", hint=f"{found} is not one")
        snapshot = (
            repo.snapshot(ref)
            if (ref is not None and repo is not None)
            else DirectorySnapshot(found)
        )
        self.files: RegistryFiles = build.checked_files(snapshot)
        self.suites = load_suites(self.files)
        at_commit = None
        if repo is not None:
            git = repo
            at_commit = lambda sha: load_files(git.snapshot(sha))  # noqa: E731
        self.source = RegistrySource(self.files, at_commit=at_commit)
        self.label = snapshot.label

    def rubric(self, prompt: str, *, suite_first: bool) -> Rubric | None:
        """The rubric of ``prompt``'s outputs: its suite's (for eval outputs), else the prompt's."""
        docs = [self.files.suites.get(prompt), self.files.prompts.get(prompt)]
        for doc in docs if suite_first else docs[1:]:
            data = (
                doc.data.get("review") if doc is not None and isinstance(doc.data, dict) else None
            )
            if isinstance(data, dict):
                rubric, _ = parse_rubric(data)  # validated: no problems
                return rubric
        return None

    def sensitive(self, prompt: str) -> frozenset[str]:
        """The prompt's ``x-sensitive`` inputs."""
        doc = self.files.prompts.get(prompt)
        props = doc.data.get("inputs", {}).get("properties", {}) if doc is not None else {}
        return frozenset(
            k for k, v in props.items() if isinstance(v, dict) and v.get("x-sensitive")
        )


def _bundle_sources(paths: Sequence[Path]) -> list[PromptSource]:
    return [
        BundleSource(bundle.read_bundle(read_capped(p, _MAX_BUNDLE, "the bundle"))) for p in paths
    ]


def _missing(docs: PromptDocs, digest: str | None) -> str:
    return (
        f"the prompt content {str(digest)[:19]}… is not in {docs.label}; "
        "pass the bundle that served it with --bundle to see the rendered prompt"
    )


def _event_item(
    c: Candidate[Mapping[str, Any]], response: str, docs: PromptDocs, stratify: Sequence[str]
) -> Item:
    event = c.payload
    raw = event.get("inputs")
    inputs: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    digest = event.get("content_digest")
    doc = docs.find(str(event.get("prompt_id")), str(event.get("env")), str(digest))
    shown = render_for_review(doc, event.get("variant"), inputs, _missing(docs, digest))
    release = event.get("release")
    return Item(
        item=c.key,
        prompt=str(event.get("prompt_id")),
        response=response[:MAX_TEXT],
        stratum=stratum_label(c.fields, stratify),
        version=_opt(event.get("version")),
        env=_opt(event.get("env")),
        variant=_opt(event.get("variant")),
        release=release if isinstance(release, int) and not isinstance(release, bool) else None,
        bundle_digest=_opt(event.get("bundle_digest")),
        content_digest=_opt(digest),
        inputs=inputs,
        messages=shown.messages,
        text=shown.text,
        note=shown.note,
    )


def _opt(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


_Drawn = tuple[QueueHeader, list[Item], Mapping[str, tuple[int, int]]]


def _sample_events(req: SampleRequest, reg: _Registry) -> _Drawn:
    prompt = str(req.prompt)
    rubric = reg.rubric(prompt, suite_first=False)
    if rubric is None:
        raise UsageError(
            f"{prompt} has no review rubric",
            hint=f"add review: (criteria and scales) to registry/{prompt}.yaml",
        )
    filters = from_events.EventFilters(prompt, req.env, req.version, req.variant)
    found = from_events.reviewable(req.events, filters)
    candidates = found.candidates
    drawn = draw(candidates, req.n, req.seed, req.stratify)
    places = {c.key: found.answers[c.key] for c in drawn.items}
    answers = from_events.responses(req.events, places)
    docs = PromptDocs(
        [*_bundle_sources(req.bundles), reg.source], f"the bundles given or {reg.label}"
    )
    items = [_event_item(c, answers.get(c.key, ""), docs, req.stratify) for c in drawn.items]
    source = {"events": [p.name for p in req.events], "registry": reg.label}
    header = _header(req, "events", source, {prompt: rubric}, len(candidates))
    return header, items, drawn.strata


def _eval_item(
    c: Candidate[from_evals.EvalOutput],
    reg: _Registry,
    docs: PromptDocs,
    stratify: Sequence[str],
    source: Mapping[str, Any],
) -> Item:
    out = c.payload
    inputs = redact_inputs(from_evals.case_inputs(reg.suites, out), reg.sensitive(out.prompt))
    doc = docs.find(out.prompt, out.env, out.content_digest)
    shown = render_for_review(doc, out.variant, inputs, _missing(docs, out.content_digest))
    return Item(
        item=c.key,
        prompt=out.prompt,
        response=out.response[:MAX_TEXT],
        stratum=stratum_label(c.fields, stratify),
        version=out.version,
        env=out.env,
        variant=out.variant,
        release=source["release"],
        bundle_digest=source["bundle_digest"],
        content_digest=out.content_digest,
        case=out.case,
        inputs=inputs,
        messages=shown.messages,
        text=shown.text,
        note=shown.note,
    )


def _sample_evals(req: SampleRequest, reg: _Registry) -> _Drawn:
    assert req.evals is not None
    data = read_capped(req.evals, _MAX_REPORT, "the eval report")
    report = load_report(data, str(req.evals))
    src = report["source"]
    rubrics = {
        p: r for p in reg.files.prompts if (r := reg.rubric(p, suite_first=True)) is not None
    }
    filters = from_evals.EvalFilters(req.prompt, req.env, req.version, req.variant)
    candidates = from_evals.reviewable_outputs(report, filters, set(rubrics))
    if not candidates:
        raise UsageError(
            "no eval output to review: no answered case of a prompt with a review rubric matches",
            hint="add review: to the prompt or its suite, or widen --prompt/--env/--variant",
        )
    drawn = draw(candidates, req.n, req.seed, req.stratify)
    bundles = _bundle_sources(req.bundles)
    docs = PromptDocs([*bundles, reg.source], f"the bundles given or {reg.label}")
    items = [_eval_item(c, reg, docs, req.stratify, src) for c in drawn.items]
    source = {
        "report": "sha256:" + hashlib.sha256(data).hexdigest(),
        "env": report["env"],
        "bundle_digest": src["bundle_digest"],
        "commit": src["commit"],
        "release": src["release"],
        "provider": report["provider"],
        "registry": reg.label,
    }
    used = {i.prompt for i in items}
    header = _header(req, "evals", source, {p: rubrics[p] for p in used}, len(candidates))
    return header, items, drawn.strata


def _header(
    req: SampleRequest,
    kind: str,
    source: Mapping[str, Any],
    rubrics: Mapping[str, Rubric],
    candidates: int,
) -> QueueHeader:
    filters = {"prompt": req.prompt, "env": req.env, "version": req.version, "variant": req.variant}
    return QueueHeader(
        kind="events" if kind == "events" else "evals",
        seed=req.seed,
        n=req.n,
        stratify=req.stratify,
        filters=filters,
        source=source,
        rubrics=rubrics,
        candidates=candidates,
    )


def sample_queue(req: SampleRequest) -> Sampled:
    """Draw the sample the request asks for and write it as a queue file.

    Raises:
        UsageError: A bad option, an unreadable or malformed input, a prompt
            without a rubric, nothing to draw, or a suite changed since the report.
        ValidationFailed: The registry has errors.
        FileWriteError: The queue cannot be written.
    """
    req.check()
    reg = _Registry(req.root, req.ref)
    sampled = _sample_evals(req, reg) if req.evals is not None else _sample_events(req, reg)
    header, items, strata = sampled
    if not items:
        raise UsageError(
            "nothing to review: no logged request of the prompt matches and carries a response",
            hint="the application must log outcome events with a (redacted) response",
        )
    digest = write_queue(req.output, header, items)
    return Sampled(req.output, digest, header.kind, len(items), header.candidates, strata, req.seed)
