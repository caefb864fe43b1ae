"""The template converter: every syntax into sandbox Jinja, literal text kept literal."""

from __future__ import annotations

import html

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from promptship.core.templates import TemplateEngine
from promptship.interop.names import normalise_name
from promptship.interop.templates import MAX_TEMPLATE, MediaRef, convert, escape_literal

ENGINE = TemplateEngine({})


def render(text: str, **inputs: object) -> str:
    return ENGINE.compile(text)(inputs)


HOSTILE = [
    "{% raw %}",
    "{% endraw %}",
    "{{ }}",
    "{#",
    "#}",
    "{% if x %}",
    "{{ cycler.__init__.__globals__ }}",
    "{",
    "}}{{",
    "{{{",
    "{%- set x = 1 -%}",
]


LITERAL_CASES = [
    (literal, syntax)
    for literal in HOSTILE
    for syntax in ("double-brace", "langfuse", "mlflow", "mustache", "handlebars")
    if not (syntax in ("mustache", "handlebars") and "{{" in literal)  # a tag in these syntaxes
]


@pytest.mark.parametrize(("literal", "syntax"), LITERAL_CASES)
def test_literal_text_renders_exactly(literal: str, syntax: str) -> None:
    source = f"before {literal} after"
    converted = convert(source, syntax)  # type: ignore[arg-type]
    assert not [n for n in converted.notes if n.severity == "error"]
    assert render(converted.text) == source


def test_jinja_smuggled_into_mustache_imports_as_literal_text() -> None:
    source = "Hello {{ cycler.__init__ }} and {{name}}"
    converted = convert(source, "mustache")
    assert converted.variables == {"name"}
    assert render(converted.text, name="Ann") == "Hello {{ cycler.__init__ }} and Ann"
    assert any(n.code == "import.literal-tag" for n in converted.notes)


@pytest.mark.parametrize("syntax", ["langfuse", "double-brace", "mlflow"])
def test_double_brace_variables(syntax: str) -> None:
    converted = convert("Hi {{ name }}, {{x}}{{y}} and {{ not a var }}", syntax)  # type: ignore[arg-type]
    assert converted.variables == {"name", "x", "y"}
    assert render(converted.text, name="A", x="1", y="{{2}}") == "Hi A, 1{{2}} and {{ not a var }}"


def test_a_brace_before_a_variable_stays_a_brace() -> None:
    # Langfuse reads "{{{name}}" as the variable "{name": not a name, so literal text.
    assert render(convert("{{{name}}", "langfuse").text) == "{{{name}}"
    converted = convert("{ {{x}}{", "double-brace")
    assert render(converted.text, x="1") == "{ 1{"
    assert escape_literal("a{", before_tag=True) == 'a{{ "{" }}'


def test_mustache_escapes_as_chevron_and_langchain_do() -> None:
    converted = convert("{{v}}|{{{v}}}|{{& v}}", "mustache")
    value = "<a href=\"x\">'&'</a>"
    escaped = html.escape(value, quote=False).replace('"', "&quot;")
    assert render(converted.text, v=value) == f"{escaped}|{value}|{value}"


def test_mustache_sections_and_standalone_lines() -> None:
    source = "a\n{{#flag}}\nyes\n{{/flag}}\n{{^flag}}\nno\n{{/flag}}\nz"
    converted = convert(source, "mustache")
    assert render(converted.text, flag=True) == "a\nyes\nz"
    assert render(converted.text, flag=False) == "a\nno\nz"


def test_mustache_comment_is_dropped_and_listed() -> None:
    converted = convert("a {{! note }}b", "mustache")
    assert render(converted.text) == "a b"
    assert [n.code for n in converted.notes] == ["import.comment"]


def test_mustache_delimiter_change_is_refused() -> None:
    notes = convert("{{=<% %>=}}<% x %>", "mustache").notes
    assert any(n.severity == "error" for n in notes)


def test_handlebars_blocks_loops_and_roles() -> None:
    source = '{{role "system"}}\nSys {{name}}\n{{role "user"}}\n{{#each items}}- {{this}} {{@index}}\n{{/each}}{{#if n}}n={{n}}{{else}}none{{/if}}{{#unless n}}!{{/unless}}'
    converted = convert(source, "handlebars", optional=frozenset({"n"}))
    roles = dict(converted.roles)
    assert render(roles["system"], name="x") == "\nSys x\n"
    user = roles["user"]
    assert render(user, items=["a", "b"], n=2) == "\n- a 0\n- b 1\nn=2"
    assert render(user, items=[]) == "\nnone!"
    assert converted.lists == {"items"}


def test_handlebars_escaped_braces_are_literal() -> None:
    assert render(convert("a \\{{b}} c", "handlebars").text) == "a {{b}} c"


@pytest.mark.parametrize(
    "helper",
    [
        "{{history}}",
        '{{section "x"}}',
        # media parts take their value from one input, outside any block but its own #if
        '{{media url="https://example.com/a.png"}}',
        "{{media url=a.b}}",
        "{{#each imgs}}{{media url=this}}{{/each}}",
        "{{#if other}}{{media url=img}}{{/if}}",
        "{{#each imgs}}{{media url=img}}{{/each}}",
        '{{media url=img contentType="not a type"}}',
        "{{media url=img size}}",
        "{{media}}",
    ],
)
def test_dotprompt_helpers_without_equivalent_are_errors(helper: str) -> None:
    assert any(n.severity == "error" for n in convert(f"a {helper}", "handlebars").notes)


def test_dotprompt_media_becomes_a_media_part() -> None:
    source = (
        '{{role "user"}}\nLook:\n{{media url=photo}}\n'
        '{{#if audio}}\nAnd listen:\n{{media url=audio contentType="audio/mpeg"}}\n{{/if}}Done.'
    )
    converted = convert(source, "handlebars")
    assert [n.severity for n in converted.notes] == ["warning"]  # photo: no contentType
    ((role, parts),) = converted.roles
    assert role == "user"
    assert isinstance(parts, tuple)
    texts = [p for p in parts if isinstance(p, str)]
    media = [p for p in parts if isinstance(p, MediaRef)]
    assert [(m.kind, m.input, m.media_type) for m in media] == [
        ("image", "photo", "image/*"),
        ("file", "audio", "audio/mpeg"),
    ]
    assert converted.media == tuple(media)
    assert converted.optional == {"audio"}  # the part inside {{#if audio}} is left out without it
    assert "photo" in converted.variables
    assert [render(t, audio="a.mp3") for t in texts] == ["\nLook:\n", "\nAnd listen:\n", "\nDone."]
    # Without audio, its text renders white space only (Dotprompt leaves such a piece out).
    assert [render(t) for t in texts[1:]] == ["\n", "Done."]
    # Hash arguments Dotprompt's media helper does not read are ignored, as it ignores them.
    ignored = convert('{{media url=photo mime="image/png"}}', "handlebars")
    assert [n.code for n in ignored.notes] == ["import.media-args", "import.media-type"]
    # A body of media and no role marker is one user message, as Dotprompt reads it.
    assert convert("{{media url=photo}}", "handlebars").roles[0][0] == "user"


def test_unclosed_and_mismatched_blocks_are_errors() -> None:
    assert any(n.severity == "error" for n in convert("{{#if a}}x", "handlebars").notes)
    assert any(n.severity == "error" for n in convert("{{#a}}x{{/b}}", "mustache").notes)


def test_deep_nesting_is_refused() -> None:
    source = "{{#a}}" * 200 + "x" + "{{/a}}" * 200
    assert any(n.code == "import.too-deep" for n in convert(source, "mustache").notes)


def test_fstring_fields_and_doubled_braces() -> None:
    converted = convert("Hi {name}, {{literal}} {{ {x} }}", "fstring")
    assert render(converted.text, name="A", x="B") == "Hi A, {literal} { B }"
    assert any(n.severity == "error" for n in convert("{x:.2f}", "fstring").notes)
    assert any(n.severity == "error" for n in convert("{0}", "fstring").notes)


def test_langfuse_references_become_includes() -> None:
    converted = convert("A @@@langfusePrompt:name=Shared Rules|label=production@@@ B", "langfuse")
    assert converted.includes == ("Shared Rules",)
    assert '{% include "shared_rules" %}' in converted.text


def test_jinja_is_kept_and_checked_by_the_sandbox() -> None:
    assert convert("{{ a }}{% if b %}{% endif %}", "jinja").variables == {"a", "b"}
    notes = convert("{{ x.__class__ }}", "jinja").notes
    assert notes
    assert notes[0].severity == "error"


def test_oversized_template_is_a_finding() -> None:
    notes = convert("x" * (MAX_TEMPLATE + 1), "mustache").notes
    assert [n.code for n in notes] == ["import.too-large"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}%#-ab \n\\")), max_size=40))
def test_any_literal_text_renders_as_itself(text: str) -> None:
    assert render(escape_literal(text, before_tag=False)) == text
    assert render(escape_literal(text, before_tag=True) + "{{ x }}", x="!") == text + "!"


@settings(max_examples=200, deadline=None)
@example(["{{a", "}}"])  # found by hypothesis: a name other than v and w
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.sampled_from(list("{}%# ab")), max_size=8),
            st.sampled_from(["{{v}}", "{{ w }}"]),
        ),
        max_size=8,
    )
)
def test_double_brace_matches_a_reference_substitution(parts: list[str]) -> None:
    import re

    source = "".join(parts)
    converted = convert(source, "langfuse")
    # Every name the importer declares is one Langfuse would substitute: a stripped
    # identifier between double braces of the source (generated text makes "a", "ab", ...).
    spelled = {m[1].strip() for m in re.finditer(r"\{\{(.*?)\}\}", source, flags=re.S)}
    assert converted.variables <= {name for name in spelled if name.isidentifier()}
    values = {name: f"<{name}{{%" for name in spelled if name.isidentifier()}
    values |= {"v": "V{{", "w": "W%}"}

    def reference(text: str) -> str:  # Langfuse's TemplateParser.compile_template, for known names
        return re.sub(r"\{\{(.*?)\}\}", lambda m: values.get(m[1].strip(), m[0]), text, flags=re.S)

    assert render(converted.text, **{k: values[k] for k in converted.variables}) == reference(
        source
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Movie Critic", "movie_critic"),
        ("summarize-v2", "summarize-v2"),
        ("a.b", "a_b"),
        ("..", None),
        ("../etc/passwd", None),
        ("\u0430dmin", None),  # Cyrillic a
        ("\uff46\uff55\uff4c\uff4c", None),  # full-width letters
        ("   ", None),
        ("___", None),
    ],
)
def test_names_normalise_or_are_refused(name: str, expected: str | None) -> None:
    assert normalise_name(name)[0] == expected


def test_handlebars_else_if_loop_data_long_comments_and_role_blocks() -> None:
    source = (
        '{{#role "system"}}Sys{{/role}}{{!-- a comment with }} inside --}}'
        '{{#role "user"}}{{#each xs}}{{#if @first}}[{{/if}}{{this}}{{#if @last}}]{{else}},{{/if}}{{/each}}'
        "{{#if a}}A{{else if b}}B{{else}}C{{/if}}{{/role}}"
    )
    converted = convert(source, "handlebars", optional=frozenset({"a", "b"}))
    assert not [n for n in converted.notes if n.severity == "error"], converted.notes
    roles = dict(converted.roles)
    assert render(roles["system"]) == "Sys"
    assert render(roles["user"], xs=["x", "y"], b=True) == "[x,y]B"
    assert render(roles["user"], xs=["x"]) == "[x]C"
