"""Round trips against the official runtimes: an imported prompt renders what the source system renders.

Each source is rendered by its own runtime (Dotprompt's ``dotpromptz``, Microsoft's
``prompty``, Langfuse's and MLflow's SDKs, ``langchain-core``) and by promptship
after ``import``, with the same inputs; the messages must be equal. Exports go the
other way: the exported file rendered by the runtime equals promptship's render, and
export → import gives back the same resolved view.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from promptship.interop.exports import render_export
from promptship.interop.imports import import_prompts
from promptship.registry import compiled_view, load_files
from promptship.registry.files import DirectorySnapshot

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def new_registry(tmp_path: Path) -> Path:
    root = tmp_path / "reg"
    (root / "registry").mkdir(parents=True)
    (root / "CODEOWNERS").write_text("/registry/ @acme/prompts\n/environments/ @acme/release\n")
    (root / "environments").mkdir()
    (root / "environments" / "production.yaml").write_text("environment: production\npolicy: {}\n")
    return root


def do_import(tmp_path: Path, files: dict[str, str | bytes], **options: Any) -> Path:
    root = new_registry(tmp_path)
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, content in files.items():
        (src / name).write_bytes(content.encode() if isinstance(content, str) else content)
    result = import_prompts(root, [str(src / n) for n in files], now=NOW, **options)
    assert result.ok, [str(f.message) for f in result.findings if f.severity == "error"]
    return root


Normal = str | list[tuple[str, str]]


def normal(pieces: list[tuple[str, str]]) -> Normal:
    """A message's content to compare: its text, or ``(text|media, value)`` pieces.

    Adjacent text pieces are one text (an optional media part left out leaves
    the text around it in two parts where Dotprompt has one: the same text),
    and text of white space only is left out, as Dotprompt leaves it out.
    """
    joined: list[tuple[str, str]] = []
    for kind, v in pieces:
        if kind == "text" and joined and joined[-1][0] == "text":
            joined[-1] = ("text", joined[-1][1] + v)
        else:
            joined.append((kind, v))
    kept = [(kind, v) for kind, v in joined if kind != "text" or v.strip()]
    if all(kind == "text" for kind, _ in pieces):
        return "".join(v for _, v in pieces)
    return kept


def _our_content(content: Any) -> Normal:
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        if part["type"] == "text":
            pieces.append(("text", part["text"]))
        else:
            value = part.get("url") or f"data:{part['media_type']};base64,{part['data']}"
            pieces.append(("media", value))
    return normal(pieces)


def rendered(
    root: Path, prompt_id: str, inputs: dict[str, Any], env: str | None = None
) -> list[dict[str, Any]] | str:
    view = compiled_view(load_files(DirectorySnapshot(root)), prompt_id, env)
    result = view.render(inputs)
    if result.messages is None:
        assert result.text is not None
        return result.text
    return [{"role": m["role"], "content": _our_content(m["content"])} for m in result.messages]


# --- Dotprompt ----------------------------------------------------------------

dotpromptz = pytest.importorskip("dotpromptz")

DOTPROMPTS = {
    "greet.prompt": (
        """---
model: googleai/gemini-1.5-flash
config:
  temperature: 0.3
  maxOutputTokens: 200
input:
  schema:
    name: string
    count?: integer, how many
---
{{role "system"}}
You are helpful. Literal {% raw %} {# x #} \\{{name}}.
{{role "user"}}
Hi {{name}} and {{{name}}} {{#if count}}count={{count}}{{else}}none{{/if}}
""",
        [{"name": "A<b>'\"&`=", "count": 3}, {"name": "Z"}],
    ),
    "list.prompt": (
        """---
model: googleai/gemini-2.0-flash
input:
  schema:
    items(array): string
    title: string
---
Title: {{title}}
{{#each items}}
- {{this}} ({{@index}})
{{/each}}
{{#unless items}}nothing{{/unless}}
""",
        [{"items": ["a", "b"], "title": "T"}, {"items": [], "title": "{{x}}"}],
    ),
    "header.prompt": (  # a licence header before the front matter, as Dotprompt's own samples have
        """# Copyright 2026 Google LLC
#
# SPDX-License-Identifier: Apache-2.0

---
model: googleai/gemini-2.5-flash
input:
  schema:
    who: string
---
{{role "user"}}
Hello {{who}}.
""",
        [{"who": "Ada"}],
    ),
    "media.prompt": (
        """---
model: googleai/gemini-2.0-flash
input:
  schema:
    dish: string
    photo: string
    fridge?: string
---
{{role "user"}}
A recipe for {{dish}}, from this:
{{media url=photo}}
{{#if fridge}}
And what you see here:
{{media url=fridge contentType="image/jpeg"}}
{{/if}}
Thanks.
""",
        [
            {
                "dish": "soup",
                "photo": "https://example.com/a.png",
                "fridge": "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
            },
            {"dish": "soup", "photo": "data:image/png;base64,iVBORw0KGgo="},
        ],
    ),
}


async def _dotprompt_render(source: str, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    from dotpromptz.typing import DataArgument

    result = await dotpromptz.Dotprompt().render(source, DataArgument(input=inputs))
    roles = {"model": "assistant"}
    return [
        {
            "role": roles.get(m.role.value, m.role.value),
            "content": normal(
                [
                    ("media", p.media.url) if getattr(p, "media", None) else ("text", p.text)
                    for p in m.content
                ]
            ),
        }
        for m in result.messages
    ]


@pytest.mark.parametrize("name", sorted(DOTPROMPTS))
def test_dotprompt_imports_render_as_dotprompt_renders(tmp_path: Path, name: str) -> None:
    source, cases = DOTPROMPTS[name]
    root = do_import(tmp_path, {name: source}, namespace="demo")
    for inputs in cases:
        ours = rendered(root, f"demo/{name.split('.', maxsplit=1)[0]}", inputs)
        theirs = asyncio.run(_dotprompt_render(source, inputs))
        if isinstance(ours, str):
            ours = [{"role": "user", "content": ours}]
        assert ours == theirs


# --- Prompty ------------------------------------------------------------------

prompty = pytest.importorskip("prompty")
pytest.importorskip("chevron")

PROMPTY_V2 = {
    "jinja.prompty": (
        """---
name: basic
description: A basic prompt
model:
  id: gpt-4o-mini
  provider: openai
  options:
    temperature: 0.2
    maxOutputTokens: 128
inputs:
  firstName:
    kind: string
  question:
    kind: string
template:
  format:
    kind: jinja2
  parser:
    kind: prompty
---
system:
You are an AI assistant. {% if firstName %}The user's name is {{firstName}}.{% endif %}
Literal {{ '{{' }} and {% raw %}{# x #}{% endraw %}.

user:
{{question}}
""",
        [{"firstName": "Ann", "question": "Why <b>?"}, {"firstName": "", "question": "{{x}}"}],
    ),
    "mustache.prompty": (
        """---
name: basic
model:
  id: gpt-4o-mini
  provider: openai
inputs:
  firstName:
    kind: string
  question:
    kind: string
template:
  format:
    kind: mustache
  parser:
    kind: prompty
---
system:
You are an AI assistant. Literal {% raw %} and {# x #}.
The user's name is {{firstName}} & {{{firstName}}}.

user:
{{question}}
""",
        [{"firstName": "A<n>'\"&", "question": "Why {{x}} <b>?"}],
    ),
}


def _prompty_render(path: Path, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    agent = prompty.load(str(path))
    return [
        {
            "role": m.role,
            "content": normal(
                [("text", p.value) if p.kind == "text" else ("media", p.source) for p in m.parts]
            ),
        }
        for m in prompty.prepare(agent, inputs)
    ]


@pytest.mark.parametrize("name", sorted(PROMPTY_V2))
def test_prompty_imports_render_as_the_prompty_runtime_renders(tmp_path: Path, name: str) -> None:
    source, cases = PROMPTY_V2[name]
    root = do_import(tmp_path, {name: source}, namespace="demo")
    for inputs in cases:
        assert rendered(root, f"demo/{name.split('.', maxsplit=1)[0]}", inputs) == _prompty_render(
            tmp_path / "src" / name, inputs
        )


PROMPTY_V1 = """---
name: Basic Prompt
description: A basic prompt that uses the chat API to answer questions
authors:
  - sethjuarez
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-35-turbo
  parameters:
    max_tokens: 128
    temperature: 0.2
inputs:
  firstName:
    type: string
  context:
    type: string
  question:
    type: string
template: jinja2
---
system:
You are an AI assistant who helps people find information.
As the assistant, you answer questions briefly, succinctly,
and in a personable manner using markdown and even add some personal flair with appropriate emojis.

# Customer
You are helping {{firstName}} to find answers to their questions.
Use their name to address them in your responses.

# Context
Use the following context to provide a more personalized response to {{firstName}}:
{{context}}

user:
{{question}}
"""


def test_prompty_v1_files_import_as_the_documentation_renders_them(tmp_path: Path) -> None:
    """Prompty 1's format (the `basic.prompty` of its documentation); golden messages, as v1 parses them."""
    root = do_import(tmp_path, {"basic.prompty": PROMPTY_V1}, namespace="demo")
    inputs = {"firstName": "Jane", "context": "Jane likes hiking.", "question": "What gear?"}
    system = PROMPTY_V1.split("system:\n", 1)[1].split("\n\nuser:", 1)[0]
    system = system.replace("{{firstName}}", "Jane").replace("{{context}}", "Jane likes hiking.")
    assert rendered(root, "demo/basic", inputs) == [
        {"role": "system", "content": system},
        {"role": "user", "content": "What gear?"},
    ]
    doc = load_files(DirectorySnapshot(root)).prompts["demo/basic"].data
    assert doc["model"] == {
        "provider": "azure_openai",
        "name": "gpt-35-turbo",
        "parameters": {"max_tokens": 128, "temperature": 0.2},
    }


# --- Langfuse -----------------------------------------------------------------

_HTTPX_LEVEL = logging.getLogger("httpx").level
pytest.importorskip("langfuse")
# Importing langfuse sets the httpx logger to WARNING for the whole process; other
# tests read httpx's request log, so the level is put back.
logging.getLogger("httpx").setLevel(_HTTPX_LEVEL)

LANGFUSE = [
    {
        "name": "movie-critic",
        "version": 3,
        "type": "text",
        "prompt": "As a {{criticLevel}} critic, rate {{ movie }}. Keep {% raw %} and {{ not.a_var }} as is.",
        "config": {"model": "gpt-4o", "temperature": 0.5, "supported_languages": ["en"]},
        "labels": ["production"],
        "tags": ["movies"],
    },
    {
        "name": "support/chat",
        "version": 1,
        "type": "chat",
        "prompt": [
            {"role": "system", "content": "You help with {{product}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ],
        "config": {},
        "labels": [],
        "tags": [],
    },
]


def _langfuse_render(obj: dict[str, Any], inputs: dict[str, Any]) -> list[dict[str, str]] | str:
    from langfuse.api.prompts import Prompt_Chat, Prompt_Text
    from langfuse.model import ChatPromptClient, TextPromptClient

    if obj["type"] == "text":
        return TextPromptClient(Prompt_Text.model_validate(obj)).compile(**inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        messages = ChatPromptClient(Prompt_Chat.model_validate(obj)).compile(**inputs)
    return [dict(m) for m in messages if "role" in m]  # placeholders are not imported (listed)


@pytest.mark.parametrize("obj", LANGFUSE, ids=lambda o: o["name"])
def test_langfuse_imports_render_as_langfuse_compiles(tmp_path: Path, obj: dict[str, Any]) -> None:
    root = do_import(tmp_path, {"export.json": json.dumps([obj])}, namespace="lf")
    files = load_files(DirectorySnapshot(root))
    (prompt_id,) = files.prompts
    inputs = {name: f"<{name}>" for name in files.prompts[prompt_id].data["inputs"]["properties"]}
    assert rendered(root, prompt_id, inputs) == _langfuse_render(obj, inputs)


# --- MLflow -------------------------------------------------------------------

mlflow_prompt = pytest.importorskip("mlflow.entities.model_registry.prompt_version")

MLFLOW = [
    "Summarize {{ text }} in {{n}} words. {{ not a var }} {% raw",
    [
        {"role": "system", "content": "You are {{ style }}."},
        {"role": "user", "content": "{{question}}?"},
    ],
    "Hello {% if name %}{{ name }}{% else %}Guest{% endif %}!",
]


@pytest.mark.parametrize("template", MLFLOW, ids=["text", "chat", "jinja"])
def test_mlflow_imports_render_as_mlflow_formats(tmp_path: Path, template: Any) -> None:
    tags = [
        {
            "key": "mlflow.prompt.text",
            "value": template if isinstance(template, str) else json.dumps(template),
        }
    ]
    if not isinstance(template, str):
        tags.append({"key": "_mlflow_prompt_type", "value": "chat"})
    version = {"name": "summarize", "version": "1", "tags": tags}
    from promptship.interop.sources import mlflow as reader

    source = reader.parse(version, {}, "mlflow")
    root = new_registry(tmp_path)
    from promptship.interop.plan import Options, plan

    planned = plan([source], Options("ml", lambda _p: "@acme/prompts"))
    assert planned.ok, planned.findings
    for path, blob in planned.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(blob)
    doc = load_files(DirectorySnapshot(root)).prompts["ml/summarize"].data
    inputs = {name: f"v-{name}" for name in doc["inputs"]["properties"]}
    theirs = mlflow_prompt.PromptVersion("summarize", 1, template).format(**inputs)
    assert rendered(root, "ml/summarize", inputs) == theirs


# --- LangChain ----------------------------------------------------------------

langchain_prompts = pytest.importorskip("langchain_core.prompts")


def _manifests() -> dict[str, Any]:
    from langchain_core.load import dumpd

    p = langchain_prompts
    templates = {
        "fstring": p.ChatPromptTemplate.from_messages(
            [("system", "You are {role}. Braces: {{literal}}."), ("human", "{question}")]
        ),
        "mustache": p.ChatPromptTemplate.from_messages(
            [("system", "Hi {{name}} {{{name}}} {% raw %}"), ("human", "{{q}}")],
            template_format="mustache",
        ),
        "jinja2": p.PromptTemplate.from_template(
            "Hello {{ name }}{% if extra %}, {{ extra }}{% endif %}", template_format="jinja2"
        ),
    }
    return {k: dumpd(v) for k, v in templates.items()}


@pytest.mark.parametrize("kind", ["fstring", "mustache", "jinja2"])
def test_langchain_manifests_render_as_langchain_formats(tmp_path: Path, kind: str) -> None:
    from langchain_core.load import load

    manifest = _manifests()[kind]
    root = do_import(tmp_path, {f"{kind}.json": json.dumps(manifest)}, namespace="lc")
    prompt_id = f"lc/{kind}"
    doc = load_files(DirectorySnapshot(root)).prompts[prompt_id].data
    inputs = {name: f"<{name}>&'\"" for name in doc["inputs"]["properties"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "jinja2":  # LangChain refuses to load jinja2 manifests: build it from its fields
            template = langchain_prompts.PromptTemplate(**manifest["kwargs"])
        else:
            template = load(manifest, allowed_objects="core")
    if "messages" in doc:
        roles = {"human": "user", "ai": "assistant"}
        theirs: Any = [
            {"role": roles.get(m.type, m.type), "content": m.content}
            for m in template.format_messages(**inputs)
        ]
    else:
        theirs = template.format(**inputs)
    assert rendered(root, prompt_id, inputs) == theirs


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_saved_langchain_prompts_render_as_load_prompt_renders(tmp_path: Path, suffix: str) -> None:
    """Files ``prompt.save()`` writes (LangChainHub's first repository holds them), as ``load_prompt`` reads them."""
    from langchain_core.prompts.loading import load_prompt

    saved = tmp_path / f"answer{suffix}"
    template = "Context: {context}\nBraces {{kept}}.\nQuestion: {question}\nAnswer:"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # save() is deprecated: these files exist all the same
        langchain_prompts.PromptTemplate.from_template(template).save(saved)
    root = do_import(tmp_path, {saved.name: saved.read_bytes()}, namespace="lc", kind="langchain")
    inputs = {"context": "<b>&'\"{x}", "question": "{{ q }}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_prompt logs the missing _type
        theirs = load_prompt(saved).format(**inputs)
    assert rendered(root, "lc/answer", inputs) == theirs


def test_saved_langchain_prompts_of_other_types_are_refused(tmp_path: Path) -> None:
    root = new_registry(tmp_path)
    src = tmp_path / "few.json"
    src.write_text(json.dumps({"_type": "few_shot", "template": "x", "input_variables": []}))
    result = import_prompts(root, [str(src)], now=NOW)
    assert not result.ok
    assert "a saved 'few_shot' prompt is not supported" in result.findings[0].message


# --- Exports ------------------------------------------------------------------


def _suite_inputs(prompt_id: str) -> list[dict[str, Any]]:
    files = load_files(DirectorySnapshot(ROOT))
    suite = files.suites.get(prompt_id)
    return [c["inputs"] for c in suite.data["cases"]] if suite else []


def _exported(fmt: str) -> dict[str, bytes]:
    result = render_export(load_files(DirectorySnapshot(ROOT)), "production", fmt)
    assert result.files, result.findings
    return result.files


def test_dotprompt_exports_render_as_dotprompt_renders() -> None:
    checked = 0
    for path, blob in _exported("dotprompt").items():
        prompt_id = path.removesuffix(".prompt")
        for inputs in _suite_inputs(prompt_id):
            ours = rendered(ROOT, prompt_id, inputs, "production")
            if isinstance(ours, str):
                ours = [{"role": "user", "content": ours.strip()}]
            if isinstance(ours[-1]["content"], str):  # Dotprompt trims its body (listed)
                ours[-1]["content"] = ours[-1]["content"].rstrip()
            assert asyncio.run(_dotprompt_render(blob.decode(), inputs)) == ours, prompt_id
            checked += 1
    assert checked


def test_prompty_exports_render_as_the_prompty_runtime_renders(tmp_path: Path) -> None:
    checked = 0
    for path, blob in _exported("prompty").items():
        prompt_id = path.removesuffix(".prompty")
        file = tmp_path / path.replace("/", "_")
        file.write_bytes(blob)
        for inputs in _suite_inputs(prompt_id):
            ours = rendered(ROOT, prompt_id, inputs, "production")
            assert isinstance(ours, list)
            stripped = [{"role": m["role"], "content": _strip_lines(m["content"])} for m in ours]
            assert (
                _prompty_render(file, inputs) == stripped
            )  # Prompty strips blank lines at message ends (listed)
            checked += 1
    assert checked


def _strip_lines(content: Normal) -> Normal:
    """Prompty strips the line breaks at a message's ends, and the text before a media part (listed)."""
    if isinstance(content, str):
        return content.strip("\n")
    return normal([(kind, v.strip() if kind == "text" else v) for kind, v in content])


def test_langfuse_exports_compile_as_promptship_renders() -> None:
    checked = 0
    for path, blob in _exported("langfuse").items():
        prompt_id = path.removesuffix(".json")
        obj = json.loads(blob) | {"version": 1}
        for inputs in _suite_inputs(prompt_id):
            assert _langfuse_render(obj, inputs) == rendered(ROOT, prompt_id, inputs, "production")
            checked += 1
    assert checked


def _view(root: Path, prompt_id: str, env: str | None) -> dict[str, Any]:
    """What export -> import must give back: inputs, model, output, review, tools, messages (fragments inlined)."""
    from promptship.core.views import resolve
    from promptship.interop.jinja_out import inline_fragments

    files = load_files(DirectorySnapshot(root))
    view, _ = resolve(files, prompt_id, env)
    data = view.data
    fragments = files.fragment_texts()  # exports inline them
    keep = ("inputs", "model", "output", "review")
    out = {k: data[k] for k in keep if k in data}
    out["tools"] = [{k: v for k, v in t.items() if k != "cache"} for t in data.get("tools", [])]
    out["tool_choice"] = data.get("tool_choice", "auto")
    if "text" in data:
        out["text"] = inline_fragments(data["text"], fragments)

    def content(c: Any) -> Any:
        if isinstance(c, str):
            return inline_fragments(c, fragments)
        return tuple(
            ("text", inline_fragments(p["text"], fragments))
            if p["type"] == "text"
            else (p["type"], p["input"])
            for p in c
        )

    if "messages" in data:
        out["messages"] = [(m["role"], content(m["content"])) for m in data["messages"]]
    return out


def _as_exported(fmt: str, ours: dict[str, Any]) -> None:
    """Our view less what ``fmt`` drops and lists (whitespace, the API, request fields)."""
    if fmt == "prompty":  # line breaks at message ends; the text before a media part
        ours["messages"] = [
            (r, c.strip("\n") if isinstance(c, str) else tuple((k, v.strip()) for k, v in c))
            for r, c in ours["messages"]
        ]
    if fmt == "dotprompt" and "messages" in ours and isinstance(ours["messages"][-1][1], str):
        ours["messages"][-1] = (ours["messages"][-1][0], ours["messages"][-1][1].rstrip())
    if fmt == "dotprompt" and "text" in ours:  # Dotprompt trims its body
        ours["text"] = ours["text"].strip()
    if fmt == "openai":
        if "text" in ours:  # a text prompt becomes one user message
            ours["messages"] = [("user", ours.pop("text"))]
        ours["model"] = {k: v for k, v in ours["model"].items() if k != "extra_body"}
        ours["model"]["api"] = "openai-responses"  # prompt objects are Responses prompts
        ours["model"]["provider"] = "openai"  # … of OpenAI's
        ours.pop("review", None)  # listed: a prompt object has no place for it


@pytest.mark.parametrize("fmt", ["dotprompt", "prompty", "openai", "langfuse"])
def test_export_then_import_gives_back_the_same_view(tmp_path: Path, fmt: str) -> None:
    files = _exported(fmt)
    out = tmp_path / "out"
    for path, blob in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(blob)
    root = new_registry(tmp_path)
    result = import_prompts(
        root, [str(out)], kind=fmt if fmt in ("openai", "langfuse") else "auto", now=NOW
    )
    assert result.ok, [f.message for f in result.findings if f.severity == "error"]
    for path in files:
        prompt_id = path.rsplit(".", 1)[0]
        if fmt in ("openai", "langfuse"):
            prompt_id = next(
                p
                for p, name in result.plan.prompts.items()
                if name == prompt_id or name.endswith(prompt_id.split("/")[1])
            )
        ours, theirs = (
            _view(ROOT, path.rsplit(".", 1)[0], "production"),
            _view(root, prompt_id, None),
        )
        _as_exported(fmt, ours)
        if fmt in ("openai", "langfuse"):
            for view in (ours, theirs):  # these formats keep no input schema: names and types only
                view["inputs"] = sorted(view["inputs"]["properties"])
        assert theirs == ours, prompt_id
