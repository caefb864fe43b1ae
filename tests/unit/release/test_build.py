"""Building a bundle from git does each thing once, and reads the policy at the source commit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship.core import views
from promptship.core.templates import TemplateEngine
from promptship.git import open_repository
from promptship.registry import checks, yamlio
from promptship.release import build as release

PINNED = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 1.0
  bundle_expiry_days: 90
  channel_expiry_days: 2
release:
  number: 1
  source_commit: {source}
  bundle_digest: {digest}
"""


def test_a_pinned_release_takes_its_policy_from_the_source_commit(tmp_path: Path) -> None:
    """The built commit sets bundle_expiry_days, the source commit does not: 30 days, not 90.

    (Before, the built commit's value won, so the rebuild's digest was not the pin's.)
    """
    repo = make_repo(tmp_path)
    source = commit(repo, evalregistry.files(), "registry")  # production: no expiry policy
    git = open_repository(Path(repo.workdir))
    first = release.build_from_git(git, "production", source)
    created = git.commit_info(source).time
    assert first.expires == created + timedelta(days=30)

    later = commit(
        repo,
        {"environments/production.yaml": PINNED.format(source=source, digest=first.bundle.digest)},
        "pin production r1, and a longer expiry on main",
    )
    rebuilt = release.build_from_git(git, "production", later)
    assert rebuilt.plan.source_commit == source
    assert rebuilt.expires == created + timedelta(days=30)
    assert rebuilt.channel_expiry_days == 30  # neither is set at the source commit
    assert rebuilt.bundle.digest == first.bundle.digest
    release.check_pin(rebuilt)


def test_the_expiry_days_rules() -> None:
    assert release.bundle_expiry_days({}) == 30
    assert release.bundle_expiry_days({"policy": {"bundle_expiry_days": 90}}) == 90
    assert release.channel_expiry_days({"policy": {"bundle_expiry_days": 90}}) == 90
    both = {"policy": {"bundle_expiry_days": 90, "channel_expiry_days": 14}}
    assert release.channel_expiry_days(both) == 14


def test_a_build_parses_resolves_and_analyses_each_thing_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    head = commit(repo, evalregistry.files(), "registry")
    git = open_repository(Path(repo.workdir))
    parsed: Counter[str] = Counter()
    resolved: Counter[tuple[str, str | None, str | None]] = Counter()
    analysed: Counter[str] = Counter()
    included: Counter[str] = Counter()

    real_load, real_resolve = yamlio.load, views.resolve
    real_analyse, real_includes = TemplateEngine.analyse, TemplateEngine.includes

    def load(data: bytes, path: str) -> Any:
        parsed[path] += 1
        return real_load(data, path)

    def resolve(
        files: Any, prompt_id: str, env: str | None, variant: str | None = None, **kw: Any
    ) -> Any:
        if not kw.get("track"):
            resolved[(prompt_id, env, variant)] += 1
        return real_resolve(files, prompt_id, env, variant, **kw)

    def analyse(self: TemplateEngine, source: str) -> Any:
        analysed[source] += 1
        return real_analyse(self, source)

    def includes(self: TemplateEngine, source: str) -> Any:
        included[source] += 1
        return real_includes(self, source)

    monkeypatch.setattr(yamlio, "load", load)
    monkeypatch.setattr(checks, "resolve", resolve)
    monkeypatch.setattr(views, "resolve", resolve)  # what release.document imports when writing
    monkeypatch.setattr(TemplateEngine, "analyse", analyse)
    monkeypatch.setattr(TemplateEngine, "includes", includes)
    built = release.build_from_git(git, "staging", head)

    assert built.prompts == 3
    assert parsed, "the build parsed nothing?"
    assert {path: n for path, n in parsed.items() if n > 1} == {}
    staging = {key: n for key, n in resolved.items() if key[1] == "staging"}
    assert ("demo/greet", "staging", "loud") in staging
    assert {key: n for key, n in staging.items() if n > 1} == {}
    assert {source: n for source, n in analysed.items() if n > 1} == {}
    assert not included  # the includes come from validation's analyses
