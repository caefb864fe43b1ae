"""Hostile templates: every one ends in a located finding or a render-budget error, never a crash.

Each case is a prompt of its own in one registry; ``validate`` and ``render``
run in a child process capped at 1.5 GiB of address space and 120 CPU seconds
(``tests/support/bounded.py``), so a case that allocated gigabytes, looped for
hours or recursed past Python's stack would kill the child, not pass. Cases a
template's literals prove over budget are ``validate`` findings at the
prompt's file and line (``template.budget``); the rest pass ``validate`` and
fail at ``render`` with a ``RenderBudgetError`` naming the prompt, the template
line and the limit. ``validate`` itself never runs registry code outside the
budget: it would exhaust the child's memory on ``center(999999999)`` if Jinja
folded constants while compiling.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bounded import Case, Outcome, run_cases

from .conftest import POSITIVE

PROMPT = """\
id: hostile/{name}
version: 1.0.0
description: A hostile template.
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
    content: |
      Ticket: {{{{ ticket }}}}
{body}
"""

# name: (template, where it is caught: "validate" or "render", what the message says)
CASES: dict[str, tuple[str, str, str]] = {
    "center-literal": ("{{ 'a'|center(999999999) }}", "validate", "max_output_chars"),
    "ljust-method": ("{{ ticket.ljust(999999999) }}", "validate", "max_output_chars"),
    "format-width": ("{{ '{:>999999999}'.format(ticket) }}", "validate", "max_output_chars"),
    "percent-width": ("{{ '%999999999s' % ticket }}", "validate", "max_output_chars"),
    "format-filter": ("{{ '%0999999999d'|format(1) }}", "validate", "max_output_chars"),
    "repeat-literal": ("{{ 'ab' * 10**8 }}", "validate", "max_output_chars"),
    "range-literal": (
        "{% for i in range(10**9) %}x{% endfor %}",
        "validate",
        "max_loop_iterations",
    ),
    "lipsum": ("{{ lipsum(10**6) }}", "validate", "max_output_chars"),
    "self-recursion": (
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "validate",
        "max_recursion_depth",
    ),
    "indent-width-literal": ("{{ ticket|indent(10**3 * 10**6) }}", "validate", "max_output_chars"),
    "batch-fill-literal": (
        "{{ [1]|batch(10**9, 'x')|list|length }}",
        "validate",
        "max_output_chars",
    ),
    "indent-width-computed": (
        "{{ ticket|indent(ticket|length * 10**9) }}",
        "render",
        "output size",
    ),
    "center-computed": ("{{ ticket|center(ticket|length * 10**9) }}", "render", "output size"),
    "nested-ranges": (
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "render",
        "loop iterations",
    ),
    "filtered-loops": (
        "{% for i in range(99999) if i < 0 %}{% endfor %}{% for j in range(99999) if j < 0 %}"
        "{% endfor %}",
        "render",
        "loop iterations",
    ),
    "doubling-concat": (
        "{% set ns = namespace(s=ticket) %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "render",
        "output size",
    ),
    "doubling-plus": (
        "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "render",
        "output size",
    ),
    "doubling-set-block": (
        "{% set ns = namespace(s=ticket) %}{% for i in range(64) %}{% set b %}{{ ns.s }}"
        "{{ ns.s }}{% endset %}{% set ns.s = b %}{% endfor %}{{ ns.s|length }}",
        "render",
        "output size",
    ),
    "join-of-ranges": (
        "{{ range(99999)|map('string')|join(ticket * 10**5) }}",
        "render",
        "output size",
    ),
    "list-times-join": ("{{ ([ticket * 99999] * 99999)|join }}", "render", "output size"),
    "exponential-macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(25) }}",
        "render",
        "work",
    ),
    "deep-guarded-recursion": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(10**6) }}",
        "render",
        "recursion depth",
    ),
    "recursive-loop": (
        "{% for x in [[1]] recursive %}{{ loop([x] * 2) }}{% endfor %}",
        "render",
        "recursion depth",
    ),
    "replace-empty": (
        "{{ (ticket * 99999)|replace('', ticket * 99999) }}",
        "render",
        "output size",
    ),
    "wordwrap-wrapstring": (
        "{{ (ticket * 99999)|wordwrap(1, wrapstring=ticket * 9999) }}",
        "render",
        "output size",
    ),
    "batch-fill": (
        "{{ [1]|batch(ticket|length * 10**9, 'x')|list|length }}",
        "render",
        "output size",
    ),
    "tojson-indent": ("{{ (range(9999)|list)|tojson(indent=10**6) }}", "render", "output size"),
    "string-of-list": ("{{ [ticket * 99999] * 99999 }}", "render", "output size"),
    "big-integers": (
        "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
        "{% endfor %}{{ ns.n }}",
        "render",
        "number too large",
    ),
    "division-by-zero": (
        "{{ 1 // (ticket|length - ticket|length) }}",
        "render",
        "ZeroDivisionError",
    ),
    "deep-parentheses": (
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "validate",
        "nests too deeply",
    ),
    "deep-fors": (
        "{% for i in [1] %}" * 30 + "x" + "{% endfor %}" * 30,
        "render",
        "cannot be compiled",
    ),
}


def _registry(root: Path) -> Path:
    shutil.copytree(POSITIVE / "minimal_chat", root)
    (root / "expect.json").unlink()
    (root / "CODEOWNERS").write_text("/registry/ @acme/support\n/environments/ @acme/platform\n")
    folder = root / "registry" / "hostile"
    folder.mkdir()
    for name, (template, _, _) in CASES.items():
        body = "      " + template
        (folder / f"{name}.yaml").write_text(PROMPT.format(name=name, body=body), "utf-8")
    return root


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("hostile-templates")
    root = _registry(base / "repo")
    cases = [Case("validate", ("validate", "--root", root, "--format", "json"))]
    cases += [
        Case(
            name,
            (
                "render",
                f"hostile/{name}",
                "--env",
                "staging",
                "--input",
                "ticket=ab",
                "--root",
                root,
            ),
        )
        for name in CASES
    ]
    found = run_cases(cases, cwd=root, home=base / "home")
    assert list((base / "home").iterdir()) == []
    return found


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_hostile_template_is_a_finding_or_a_budget_error(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    _template, where, says = CASES[name]
    file = f"registry/hostile/{name}.yaml"
    report = outcomes["validate"]
    assert report.code == 1
    # validate runs first in the child: had it folded a constant such as center(999999999)
    # while compiling, the child would have held a gigabyte
    assert report.peak_mb < 400, report.peak_mb
    assert "internal error" not in report.err
    findings = [f for f in json.loads(report.out)["findings"] if f["file"] == file]
    rendered = outcomes[name]
    assert rendered.clean, (rendered.code, rendered.err)
    if where == "validate":
        assert findings, f"validate found nothing in {file}"
        content = PROMPT.splitlines().index("    content: |") + 1  # the line of its `|`
        # each finding is at the template's line in the file (template line N: content + N)
        at = [
            (f["line"], f["col"], re.search(r"template line (\d+)", f["message"])) for f in findings
        ]
        assert all(m and (line, col) == (content + int(m[1]), 7) for line, col, m in at), at
        assert any(says in f["message"] for f in findings), findings
    else:
        assert [f for f in findings if f["severity"] == "error"] == [], findings
        assert rendered.code == 1
        assert f"prompt hostile/{name}, message 1 (user)" in rendered.err, rendered.err
        assert says in rendered.err, rendered.err
        if "render budget exceeded" in rendered.err:
            assert "template line 2" in rendered.err, rendered.err
            assert "policy.render_budget." in rendered.err


def test_the_table_covers_every_limit() -> None:
    said = {says for _, _, says in CASES.values()}
    for limit in ("output size", "loop iterations", "recursion depth", "work"):
        assert limit in said
    assert len(CASES) >= 25
