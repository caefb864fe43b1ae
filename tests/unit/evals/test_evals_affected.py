"""`--affected BASE..HEAD` on real git repositories, and pinned environments read at their release."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship import evals, registry
from promptship.evals.providers import EchoProvider
from promptship.git import open_repository
from promptship.history import compare as history

FRAGMENT = """\
id: house_rules
description: Shared rules.
owner: "@acme/team"
text: Answer in one word.
"""


def _repo(tmp_path: Path) -> tuple[pygit2.Repository, str]:
    repo = make_repo(tmp_path)
    files = evalregistry.files(
        {
            "registry/_fragments/house_rules.yaml": FRAGMENT,
            "registry/demo/classify.yaml": evalregistry.CLASSIFY.replace(
                "content: Classify the text as a or b.",
                "content: \"Classify the text as a or b. {% include 'house_rules' %}\"",
            ),
        }
    )
    base = commit(repo, files, "registry")
    return repo, base


def _affected(
    repo: pygit2.Repository, base: str, head: str | None
) -> dict[str, frozenset[str] | None]:
    git = open_repository(Path(repo.workdir))
    before, after, changes = history.git_sides(git, base, head)
    return evals.affected_targets(before, after, changes)


def _greet_text(old: str, new: str) -> str:
    return evalregistry.GREET.replace(old, new)


def test_a_behavioural_change_affects_the_prompt_in_every_environment(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    head = commit(repo, {"registry/demo/greet.yaml": _greet_text("politely", "warmly")})
    assert _affected(repo, base, head) == {"demo/greet": frozenset({"staging", "production"})}


def test_a_metadata_change_affects_nothing(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    head = commit(
        repo, {"registry/demo/greet.yaml": _greet_text("Greets someone.", "Greets anyone.")}
    )
    assert _affected(repo, base, head) == {}


def test_a_fragment_change_affects_the_prompts_that_include_it(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    head = commit(
        repo, {"registry/_fragments/house_rules.yaml": FRAGMENT.replace("one word", "two words")}
    )
    assert _affected(repo, base, head) == {"demo/classify": frozenset({"staging", "production"})}


def test_an_overlay_affects_only_its_environment(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    overlay = "model:\n  name: bigger-model\n"
    head = commit(repo, {"environments/production/demo/greet.yaml": overlay})
    assert _affected(repo, base, head) == {"demo/greet": frozenset({"production"})}


def test_a_changed_suite_runs_in_every_environment(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    suite = evalregistry.CLASSIFY_SUITE.replace('"first"', '"premier"').replace(
        "value: 'first'", "value: 'premier'"
    )
    head = commit(repo, {"registry/demo/classify.evals.yaml": suite})
    assert _affected(repo, base, head) == {"demo/classify": None}


def test_a_new_prompt_is_affected_everywhere_and_a_removed_one_nowhere(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    new = evalregistry.GREET.replace("id: demo/greet", "id: demo/wave").replace(
        "variants:", "x-old-variants:"
    )
    new = new.split("x-old-variants:")[0]
    head = commit(
        repo,
        {
            "registry/demo/wave.yaml": new,
            "registry/demo/greet.evals.yaml": None,
            "registry/demo/greet.yaml": None,
        },
    )
    assert _affected(repo, base, head) == {"demo/wave": None}


def test_the_working_tree_is_the_default_head(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    (Path(repo.workdir) / "registry/demo/greet.yaml").write_text(_greet_text("politely", "briefly"))
    assert _affected(repo, base, None) == {"demo/greet": frozenset({"staging", "production"})}


def test_affected_selection_runs_only_those_targets(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    head = commit(
        repo, {"environments/production/demo/greet.yaml": "model:\n  name: bigger-model\n"}
    )
    git = open_repository(Path(repo.workdir))
    before, after, changes = history.git_sides(git, base, head)
    affected = evals.affected_targets(before, after, changes)
    files = registry.load_files(after.snapshot)
    source = evals.RegistrySource(files, evals.SourceInfo(commit=head))
    report = evals.evaluate(
        source,
        evals.load_suites(files),
        EchoProvider(),
        evals.ProviderInfo("echo"),
        affected=affected,
    )
    assert [(s["prompt"], s["env"]) for s in report["suites"]] == [("demo/greet", "production")]
    assert report["env"] == "production"
    assert report["source"]["commit"] == head
    assert report["summary"]["without_suite"] == []
    nothing = evals.evaluate(
        source, evals.load_suites(files), EchoProvider(), evals.ProviderInfo("echo"), affected={}
    )
    assert nothing["suites"] == []
    assert nothing["summary"]["ok"] is True


def test_a_pinned_environment_is_evaluated_at_its_release(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    pinned = evalregistry.PRODUCTION + (
        f"release:\n  number: 4\n  source_commit: {base}\n  bundle_digest: sha256:{'0' * 64}\n"
    )
    head = commit(
        repo,
        {
            "environments/production.yaml": pinned,
            "registry/demo/greet.yaml": _greet_text("politely", "warmly"),
        },
    )
    git = open_repository(Path(repo.workdir))
    # The change at HEAD reaches staging; production serves its pinned release.
    assert _affected(repo, base, head) == {"demo/greet": frozenset({"staging"})}
    files = registry.load_files(git.snapshot(head))
    source = evals.RegistrySource(
        files,
        evals.SourceInfo(commit=head),
        at_commit=lambda sha: registry.load_files(git.snapshot(sha)),
    )
    assert "warmly" in str(source.document("demo/greet", "staging")["view"])
    assert "politely" in str(source.document("demo/greet", "production")["view"])
    unpinned = evals.RegistrySource(files)
    assert "warmly" in str(unpinned.document("demo/greet", "production")["view"])


@pytest.mark.parametrize("spec", ["main", "..HEAD", "a...b"])
def test_bad_affected_ranges_are_usage_errors(tmp_path: Path, spec: str) -> None:
    from promptship.cli import main

    repo, _ = _repo(tmp_path)
    assert main(["eval", "--root", str(repo.workdir), "--affected", spec]) == 2


def test_named_prompts_narrow_the_affected_ones(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    head = commit(
        repo,
        {
            "registry/demo/greet.yaml": _greet_text("politely", "warmly").replace(
                '"politely"', '"warmly"'
            ),
            "registry/demo/classify.evals.yaml": evalregistry.CLASSIFY_SUITE + "# touched\n",
        },
    )
    git = open_repository(Path(repo.workdir))
    before, after, changes = history.git_sides(git, base, head)
    affected = evals.affected_targets(before, after, changes)
    assert set(affected) == {"demo/greet", "demo/classify"}
    files = registry.load_files(after.snapshot)
    report = evals.evaluate(
        evals.RegistrySource(files),
        evals.load_suites(files),
        EchoProvider(),
        evals.ProviderInfo("echo"),
        affected=affected,
        prompts=["demo/classify"],
    )
    assert {s["prompt"] for s in report["suites"]} == {"demo/classify"}
