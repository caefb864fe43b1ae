"""YAML syntax errors told in the author's words, at the place to fix, by both parsers."""

from __future__ import annotations

import pytest

from promptship.core.errors import YamlError
from promptship.registry.yamlio import load


@pytest.mark.parametrize("engine", ["c", "pure"])
@pytest.mark.parametrize(
    ("text", "line", "col", "message", "hint"),
    [
        ("a: 1\nb:\n\tc: 2\n", 3, 1, "a tab character is used for indentation",
         "replace the tab at line 3 with spaces"),
        ('owner: @acme/x\n', 1, 8, "a plain value cannot start with '@'",
         'quote the whole value: owner: "@acme/x"'),
        ("content: {{ name }}\n", 1, 10, "a template written as a bare value",
         'content: "{{ name }}"'),
        ("content: {% if x %}y{% endif %}\n", 1, 10, "a template written as a bare value",
         'content: "{% if x %}y{% endif %}"'),
        ("description: Note: this\n", 1, 18, "a ': ' inside a plain value", "quote the whole value"),
        ('a: "hello\nb: 2\n', 1, 4, "a quoted value is never closed", "close the quote"),
        ('a: "hello\nb:\n  owner: "@acme/x"\n', 1, 4, "a quoted value is never closed",
         "close the quote"),  # closed by a later quote: told where it opened
        ("a: [1, 2\nb: 2\n", 1, 4, "a '[' list is never closed", "close it with ']'"),
        ("a: {x: 1\nb: 2\n", 1, 4, "a '{' mapping is never closed", '"{{ name }}"'),
        ("a:\n  b: 1\n c: 2\n", 3, 2, "indentation does not match", "two per level"),
        ("a: 1\nb\nc: 2\n", 2, 1, "is not 'key: value'", "key: |"),
        ('a: "x" y\n', 1, 8, "text after a quoted value", "inside the quotes"),
        ("a: | x\n  y\n", 1, 6, "text on the same line as a block indicator", "next line"),
    ],
)  # fmt: skip
def test_syntax_errors_are_explained(
    engine: str, text: str, line: int, col: int, message: str, hint: str
) -> None:
    with pytest.raises(YamlError) as err:
        load(text.encode(), "f.yaml", engine=engine)  # type: ignore[arg-type]
    assert err.value.location is not None
    assert (err.value.location.line, err.value.location.col) == (line, col)
    assert message in err.value.message
    assert hint in (err.value.hint or "")
