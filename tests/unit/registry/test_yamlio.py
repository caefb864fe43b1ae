from __future__ import annotations

import pytest

from promptship.core.errors import YamlError
from promptship.registry import yamlio


@pytest.fixture(params=["c", "pure"], autouse=True)
def engine(request: pytest.FixtureRequest) -> str:
    """Every test runs with libyaml's parser and with the pure-Python one."""
    global ENGINE
    ENGINE = request.param
    return ENGINE


ENGINE = "c"


def load(text: str | bytes, **kw):  # type: ignore[no-untyped-def]
    data = text.encode() if isinstance(text, str) else text
    return yamlio.load(data, "f.yaml", engine=ENGINE, **kw)


def test_values_and_positions() -> None:
    doc = load("a: 1\nb:\n  - x\n  - {c: 'q', d: 0x1f}\ne: |\n  hi\n")
    assert doc.data == {"a": 1, "b": ["x", {"c": "q", "d": 31}], "e": "hi\n"}
    assert doc.values[("a",)] == (1, 4)
    assert doc.values[("b", 1, "d")] == (4, 17)
    assert doc.keys[("b", 1, "c")] == (4, 6)
    assert str(doc.location(("b", 1, "missing"))) == "f.yaml:4:5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v: yes", "yes"),  # YAML 1.2: not a boolean
        ("v: on", "on"),
        ("v: true", True),
        ("v: 0o17", 15),
        ("v: 012", 12),  # 1.2: decimal, not octal
        ("v: 1e3", 1000.0),
        ("v: -9007199254740991", -(2**53 - 1)),
        ("v: ~", None),
        ("v: '1'", "1"),
        ("v: 2026-01-01", "2026-01-01"),  # no timestamps in the core schema
    ],
)
def test_yaml_12_core_schema(text: str, expected: object) -> None:
    assert load(text).data["v"] == expected


@pytest.mark.parametrize(
    ("text", "message", "line", "col"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'", 2, 1),
        ("a: &x 1\nb: *x\n", "anchor '&x'", 1, 4),
        ("a: *x\n", "alias", 1, 4),
        ("b:\n  <<: {a: 1}\n", "merge keys", 2, 3),
        ("a: !!python/object/apply:os.system ['true']\n", "tag", 1, 4),
        ("a: !custom x\n", "tag '!custom'", 1, 4),
        ("a: 1\n---\nb: 2\n", "more than one YAML document", 2, 1),
        ("1: x\n", "not a string", 1, 1),
        ("? [a]\n: b\n", "complex mapping keys", 1, 3),
        ("a: [\n", "syntax error", 2, 1),
        ("a: [b\nc: 1\n", "a '[' list is never closed", 1, 4),
        ("a:\n\tb: 1\n", "a tab character is used for indentation", 2, 1),
        ("a: {{ x }}\n", "a template written as a bare value", 1, 4),
        ("", "empty", 1, 1),
        # numbers a bundle (JSON) cannot carry, including ones int() itself refuses
        ("a: .nan\n", "not a number JSON can carry", 1, 4),
        ("a:\n  b: -.inf\n", "not a number JSON can carry", 2, 6),
        ("a: 1e999\n", "too large", 1, 4),
        ("a: 9007199254740992\n", "too large", 1, 4),
        ("a: 0x" + "f" * 5000 + "\n", "too large", 1, 4),
        ("9" * 100 + ": x\n", "not a string", 1, 1),
        ("a: " + "9" * 5000 + "\n", "5,000 digits", 1, 4),
    ],
)
def test_rejections_carry_locations(text: str, message: str, line: int, col: int) -> None:
    with pytest.raises(YamlError) as err:
        load(text)
    assert message in err.value.message
    assert err.value.location is not None
    assert (err.value.location.line, err.value.location.col) == (line, col)
    assert err.value.hint


def test_billion_laughs_is_refused_at_the_first_alias() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(
            f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]"
        )
    with pytest.raises(YamlError, match="anchor"):
        load("\n".join(lines))


def test_size_cap_is_checked_before_parsing() -> None:
    big = b"a: '" + b"x" * (2 * 1024 * 1024) + b"'\n"
    with pytest.raises(YamlError, match="over the"):
        load(big)
    with pytest.raises(YamlError, match="over the 10-byte limit"):
        load(b"a: 12345678901\n", max_bytes=10)


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_is_refused_without_recursion(opener: str) -> None:
    text = opener * 10_000
    with pytest.raises(YamlError, match="nesting deeper than 64"):
        load(text)


def test_non_utf8_is_located() -> None:
    with pytest.raises(YamlError) as err:
        load(b"a: ok\nb: caf\xe9\n")
    assert err.value.location is not None
    assert (err.value.location.line, err.value.location.col) == (2, 7)


def test_bom_is_accepted() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_roundtrip_keeps_comments_order_and_quotes() -> None:
    text = (
        "# yaml-language-server: $schema=x.json\n"
        "b: 'single'  # trailing\n"
        "a:\n"
        "  - id: one\n"
        "    content: |\n"
        "      line {{ x }}\n"
        '  - "double"\n'
    )
    assert yamlio.roundtrip_dump(yamlio.roundtrip_load(text)) == text
