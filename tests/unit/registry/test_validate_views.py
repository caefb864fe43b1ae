"""A prompt's view equal to one of its views already found clean, under an equal budget, is not checked again.

``validate`` checks every view of a prompt (its file, each environment, each
variant); a view equal to an earlier clean one of the same prompt, in an
environment with an equal render budget, is clean too and is skipped. These
tests hold the findings equal to those of a run that checks every view, for
every registry the tests keep, the synthetic one, and registries built so
that equal views differ in budget or are not clean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptship import registry
from promptship.core.model import Finding
from promptship.registry import checks
from promptship.registry.checks._views import same_view
from promptship.registry.files import DirectorySnapshot
from tests.benchmarks.synth import generate

ROOT = Path(__file__).resolve().parents[3]
REGISTRIES = sorted(
    p.parent
    for p in [*ROOT.glob("tests/acceptance/*/*/registry"), ROOT / "registry"]
    if p.is_dir() and (p.parent / "environments").is_dir()
)


def _every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check every view: none is taken as clean for being equal to another."""
    check_view = checks._check_view
    monkeypatch.setattr(
        checks, "_check_view", lambda run, p, env, v, passed: check_view(run, p, env, v, [])
    )


def _both(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Finding], list[Finding]]:
    _, found = registry.validate(DirectorySnapshot(root), jobs=1)
    with monkeypatch.context() as m:
        _every_view(m)
        _, reference = registry.validate(DirectorySnapshot(root), jobs=1)
    return found, reference


@pytest.mark.parametrize("root", REGISTRIES, ids=[str(p.relative_to(ROOT)) for p in REGISTRIES])
def test_kept_registries_find_what_checking_every_view_finds(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found, reference = _both(root, monkeypatch)
    assert found == reference


def test_the_synthetic_registry_skips_equal_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path, 40, overlay_every=3)
    seen: list[str | None] = []
    check_templates = checks.check_templates

    def counting(run: object, prompt_id: str, view: object, env: str | None, v: object) -> object:
        seen.append(env)
        return check_templates(run, prompt_id, view, env, v)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "check_templates", counting)
    found, reference = _both(tmp_path, monkeypatch)
    assert found == reference == []
    # staging equals production (the same defaults) unless an overlay changed it
    assert seen.count("production") == 40 + 40  # checked first (environments by name)
    assert seen.count("staging") == 14 + 40  # the first run, then every view


PROMPT = """\
id: support/{name}
version: 1.0.0
description: A prompt whose views in two environments are equal.
metadata:
  owner: "@acme/support"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
inputs:
  type: object
  properties:
    ticket:
      type: string
  required: [ticket]
  additionalProperties: false
messages:
  - id: user
    role: user
    content: "{content}"
"""

PLAIN = "policy:\n  min_pass_rate: 0.9\n"
TIGHT = PLAIN + "  render_budget:\n    max_output_chars: 100\n"
ENV = """\
environment: {env}
defaults:
  model:
    parameters:
      max_tokens: {tokens}
{policy}"""


@pytest.mark.parametrize(
    ("content", "policies", "codes"),
    [
        # over the tight budget of one environment only: told for that one
        (
            "{{ ticket }} {{ 'ab' * 1000 }}",
            (TIGHT, PLAIN),
            {"template.budget"},
        ),
        (
            "{{ ticket }} {{ 'ab' * 1000 }}",
            (PLAIN, TIGHT),
            {"template.budget"},
        ),
        # not clean anywhere: told as it is by a full check
        ("{{ ticket }} {{ other }}", (PLAIN, PLAIN), {"inputs.undeclared"}),
        # clean in both
        ("{{ ticket }}", (PLAIN, PLAIN), set()),
        # views the schema refuses (the defaults set a max_tokens below its minimum)
        ("{{ ticket }}", (PLAIN, PLAIN, -5), {"schema"}),
    ],
)
def test_equal_views_in_other_budgets_or_with_findings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    policies: tuple[Any, ...],
    codes: set[str],
) -> None:
    (tmp_path / "CODEOWNERS").write_text("* @acme/support\n")
    (tmp_path / "registry" / "support").mkdir(parents=True)
    (tmp_path / "environments").mkdir()
    for name in ("a", "b"):
        text = PROMPT.format(name=name, content=content.replace('"', '\\"'))
        (tmp_path / "registry" / "support" / f"{name}.yaml").write_text(text)
    tokens = policies[2] if len(policies) > 2 else 300
    for env, policy in zip(("production", "staging"), policies[:2], strict=True):
        text = ENV.format(env=env, policy=policy, tokens=tokens)
        (tmp_path / "environments" / f"{env}.yaml").write_text(text)
    found, reference = _both(tmp_path, monkeypatch)
    assert found == reference
    assert {f.code for f in found} == codes


@pytest.mark.parametrize(
    ("in_file", "tokens", "told"),
    [
        # production's view is clean; staging's is == to it (True == 1) but not valid
        (None, {"production": "1", "staging": "true"}, {"staging"}),
        # the file says 1; both environments' views are == to it, neither is valid
        ("1", {"production": "true", "staging": "true"}, {"production", "staging"}),
        ("1", {"production": "1", "staging": "1.5"}, {"staging"}),
    ],
)
def test_views_equal_only_by_python_equality_are_checked(
    tmp_path: Path, in_file: str | None, tokens: dict[str, str], told: set[str]
) -> None:
    (tmp_path / "CODEOWNERS").write_text("* @acme/support\n")
    (tmp_path / "registry" / "support").mkdir(parents=True)
    (tmp_path / "environments").mkdir()
    text = PROMPT.format(name="a", content="{{ ticket }}")
    if in_file is not None:
        text = text.replace(
            "  name: gpt-4o-mini\n",
            f"  name: gpt-4o-mini\n  parameters:\n    max_tokens: {in_file}\n",
        )
    (tmp_path / "registry" / "support" / "a.yaml").write_text(text)
    for env, value in tokens.items():
        env_text = ENV.format(env=env, policy=PLAIN, tokens=value)
        (tmp_path / "environments" / f"{env}.yaml").write_text(env_text)
    _, found = registry.validate(DirectorySnapshot(tmp_path), jobs=1)
    assert {f.code for f in found} == {"schema"}
    assert {f.location.file.split("/")[-1][: -len(".yaml")] for f in found if f.location} == told


def _typed(value: Any) -> Any:
    """``value`` with each scalar's type beside it, a mapping's order left out."""
    if isinstance(value, dict):
        return ("dict", sorted((k, _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 2),
        st.sampled_from([0.0, 1.0, 2.5]),
        st.text("ab"),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(JSON, JSON)
def test_same_view_is_equality_of_values_and_types(a: Any, b: Any) -> None:
    assert same_view(a, b) is (_typed(a) == _typed(b))
    assert same_view(a, a)
    shared = {"kept": a, "changed": b}
    assert same_view(shared, {"changed": b, "kept": a})  # order aside
    assert not same_view(shared, {**shared, "changed": [b]})
