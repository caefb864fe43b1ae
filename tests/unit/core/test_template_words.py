"""Template mistakes told in the author's words, at their line, with "did you mean" (issue 17).

An unknown filter once made ``validate`` blame itself (``internal error:
TemplateAssertionError``, exit 3, every other finding lost) and an unknown test
passed ``validate`` to fail only at render time; a mistyped tag came out as
Jinja's paragraph. Each is now a problem ``line N: …`` found by reading the
template, and :meth:`YamlDoc.line_location` puts it on the template's own line
of the YAML file.
"""

from __future__ import annotations

import pytest

from promptship.core.errors import Location, TemplateError
from promptship.core.template_words import syntax_message
from promptship.core.templates import TemplateEngine
from promptship.registry import yamlio


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ x | uppper }}", "line 1: unknown filter 'uppper'; did you mean 'upper'?"),
        ("a\n{% if x is defind %}y{% endif %}", "line 2: unknown test 'defind'; did you mean 'defined'?"),
        ("{% if x %}{{ x | nosuchfilterat }}{% endif %}", "line 1: unknown filter 'nosuchfilterat'"),
        ("{% filter uper %}x{% endfilter %}", "line 1: unknown filter 'uper'; did you mean 'upper'?"),
        (
            "{% if x %}\n{% endfi %}",
            "line 2: unknown tag 'endfi'; did you mean 'endif'? (the 'if' block opened above "
            "is still open: close it with {% endif %})",
        ),
        ("{% fro x in y %}{% endfor %}", "line 1: unknown tag 'fro'; did you mean 'for'?"),
        (
            "{% for x in y %}\n{{ x }}",
            "line 2: the template ends inside a block (the 'for' block opened above is still "
            "open: close it with {% endfor %})",
        ),
        ("{{ x }", "line 1: unexpected '}': write {{ name }} for a value and {% tag %} for a tag"),
    ],
)  # fmt: skip
def test_a_template_mistake_is_a_problem_at_its_line(source: str, problem: str) -> None:
    assert TemplateEngine({}).analyse(source).problems == (problem,)


def test_every_mistake_of_a_template_is_told_not_just_the_first() -> None:
    problems = TemplateEngine({}).analyse(
        "{{ a | uppper }}\n{{ b | lowr }}\n{% if c is od %}{% endif %}"
    )
    assert problems.problems == (
        "line 1: unknown filter 'uppper'; did you mean 'upper'?",
        "line 2: unknown filter 'lowr'; did you mean 'lower'?",
        "line 3: unknown test 'od'; did you mean 'odd'?",
    )


def test_a_fragment_s_unknown_filter_names_the_fragment() -> None:
    engine = TemplateEngine({"tone": "Be {{ mood | titel }}."})
    assert engine.analyse('{% include "tone" %}').problems == (
        "fragment 'tone': line 1: unknown filter 'titel'; did you mean 'title'?",
    )


@pytest.mark.parametrize(
    "source", ["{{ x | uppper }}", "{% if x is nosuchtest %}y{% endif %}", "{% endfi %}"]
)
def test_compiling_refuses_what_validate_reports(source: str) -> None:
    """``render`` (which compiles) fails with the same words, never at run time or internally."""
    with pytest.raises(TemplateError, match=r"prompt p, message 1: template line 1: unknown"):
        TemplateEngine({}).compile(source, "prompt p, message 1")


def test_a_private_filter_is_told_once() -> None:
    assert TemplateEngine({}).analyse("{{ x | _secret }}").problems == (
        "line 1: no filter named '_secret'",
    )


def test_messages_jinja_words_otherwise_are_kept() -> None:
    assert syntax_message("expected token 'end of print statement', got 'x'") == (
        "expected token 'end of print statement', got 'x'"
    )


PROMPT = """\
id: p/q
messages:
  - id: system
    content: |
      one
        two {{ x | uppper }}

      four
  - id: user
    content: "{{ y }}"
"""


def test_line_n_of_a_literal_block_is_its_own_line_of_the_file() -> None:
    doc = yamlio.load(PROMPT.encode(), "registry/p/q.yaml")
    block = doc.location(("messages", 0, "content"))
    assert (block.line, block.col) == (4, 14)  # the `|`
    assert doc.line_location(block, 1) == Location("registry/p/q.yaml", 5, 7)
    assert doc.line_location(block, 2) == Location("registry/p/q.yaml", 6, 7)
    assert doc.line_location(block, 4) == Location("registry/p/q.yaml", 8, 7)
    quoted = doc.location(("messages", 1, "content"))
    assert doc.line_location(quoted, 1) == quoted  # not a block: where the text starts
