"""promptfoo configurations: prompts and providers → prompts, tests → eval suites, pure.

``prompts`` are Nunjucks texts (kept as Jinja, checked by the sandbox) or
chat messages as JSON; ``file://`` entries are read through ``read``.
The first provider gives the model; the others become variants that change
only the model. ``tests`` (with ``defaultTest``) become the cases of an eval
suite; assertion types map as in :data:`ASSERTIONS`, and every other one is
listed as not mapped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from promptship.core.errors import YamlError
from promptship.core.regex import LinearRegex, RegexError
from promptship.interop.model import SourcePrompt
from promptship.interop.sources._common import (
    SourceError,
    as_map,
    decode,
    load_json,
    split_model_name,
)
from promptship.interop.templates import Note
from promptship.registry import yamlio

__all__ = ["ASSERTIONS", "parse"]

ASSERTIONS = {
    "equals": ("equals", {}),
    "contains": ("contains", {}),
    "icontains": ("contains", {"ignore_case": True}),
    "not-contains": ("not-contains", {}),
    "not-icontains": ("not-contains", {"ignore_case": True}),
    "regex": ("regex", {}),
    "not-regex": ("not-regex", {}),
    "is-json": ("json-valid", {}),
}
"""promptfoo assertion types with a promptship equivalent (and the options it gets)."""

MAX_TESTS = 10_000


def _direct(kind: str, value: Any) -> list[dict[str, Any]]:
    name, options = ASSERTIONS[kind]
    out: dict[str, Any] = {"type": name, **options}
    if name in ("equals", "contains", "not-contains"):
        out["value"] = str(value)
    elif name in ("regex", "not-regex"):
        out["pattern"] = str(value)
    return [out]


def _linear(found: list[dict[str, Any]], kind: str, notes: list[Note], where: str) -> bool:
    """Whether every pattern of ``found`` is RE2 syntax (promptship's regexes); else listed."""
    for a in found:
        if a["type"] not in ("regex", "not-regex"):
            continue
        try:
            LinearRegex(a["pattern"])
        except RegexError as e:
            notes.append(
                Note(
                    "import.assertion",
                    f"{where}: the '{kind}' pattern {a['pattern'][:80]!r} is not RE2 syntax"
                    f" ({e}); not mapped: rewrite it (not-regex says what a negative lookahead"
                    " did)",
                )
            )
            return False
    return True


def _composite(kind: str, value: Any, threshold: Any) -> list[dict[str, Any]] | None:
    """Assertions promptfoo expresses with other options; ``None`` when there is no equivalent."""
    number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
    many = isinstance(value, list)
    mapped: dict[str, Any] = {
        "starts-with": [{"type": "regex", "pattern": "^" + re.escape(str(value))}],
        "contains-all": [{"type": "contains", "value": str(v)} for v in value] if many else None,
        "contains-any": [{"type": "regex", "pattern": "|".join(re.escape(str(v)) for v in value)}]
        if many
        else None,
        "latency": [{"type": "latency", "max_ms": threshold}] if number else None,
        "cost": [{"type": "cost", "max_usd": threshold}] if number else None,
    }
    found: list[dict[str, Any]] | None = mapped.get(kind)
    return found


def _assertion(item: Any, notes: list[Note], where: str) -> list[dict[str, Any]]:
    kind = as_map(item).get("type")
    if not isinstance(kind, str):
        notes.append(
            Note("import.assertion", f"{where}: an assertion without a type is not mapped")
        )
        return []
    if kind in ASSERTIONS:
        direct = _direct(kind, item.get("value"))
        return direct if _linear(direct, kind, notes, where) else []
    found = _composite(kind, item.get("value"), item.get("threshold"))
    if found is None:
        notes.append(
            Note(
                "import.assertion",
                f"{where}: assertion type '{kind}' has no equivalent; not mapped",
            )
        )
        return []
    return found


def _case(
    i: int,
    where: str,
    test: Mapping[str, Any],
    notes: list[Note],
    *,
    base_vars: Mapping[str, Any],
    base_asserts: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """One case, or ``None`` (listed) when nothing in it is an assertion promptship can check."""
    case: dict[str, Any] = {"id": f"case-{i + 1}"}
    if isinstance(test.get("description"), str):
        case["description"] = test["description"]
    case["inputs"] = {**base_vars, **as_map(test.get("vars"))}
    asserts = base_asserts + [
        a for item in test.get("assert") or [] for a in _assertion(item, notes, where)
    ]
    if not asserts:
        notes.append(
            Note(
                "import.unmapped",
                f"{where} checks nothing promptship can check (a promptship case must);"
                " not imported",
            )
        )
        return None
    case["assert"] = asserts
    return case


_TEST_FILES = (".yaml", ".yml", ".json")


def _test_file(ref: str, read: Callable[[str], bytes], notes: list[Note]) -> list[tuple[str, Any]]:
    """The tests a ``file://`` YAML or JSON file holds; anything else is listed, not read."""
    path = ref[len("file://") :]
    if not path.endswith(_TEST_FILES):
        notes.append(
            Note(
                "import.unmapped",
                f"tests from {ref!r} are not read (YAML and JSON test files are);"
                " write the cases into the suite",
            )
        )
        return []
    try:
        loaded = yamlio.load(read(path), path).data
    except YamlError as e:
        raise SourceError(f"{path}: {e.message}", hint=e.hint) from None
    items = loaded if isinstance(loaded, list) else [loaded]
    return [(f"{path}[{k}]", item) for k, item in enumerate(items)]


def _tests(
    config: Mapping[str, Any], read: Callable[[str], bytes], notes: list[Note]
) -> list[tuple[str, Any]]:
    """``tests``: a list of cases and ``file://`` references to test files, or one reference.

    Each test comes with where it was written (``tests[2]``, ``cases.yaml[0]``).
    """
    tests = config.get("tests") or []
    entries = [tests] if isinstance(tests, str) else tests
    if not isinstance(entries, list):
        raise SourceError("'tests' must be a list of tests, or a file:// reference")
    out: list[tuple[str, Any]] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str) and entry.startswith("file://"):
            out.extend(_test_file(entry, read, notes))
        elif isinstance(entry, str):
            notes.append(Note("import.unmapped", f"tests from {entry!r} are not read"))
        else:
            out.append((f"tests[{i}]", entry))
        if len(out) > MAX_TESTS:
            break
    if len(out) > MAX_TESTS:
        raise SourceError(f"'tests' must hold at most {MAX_TESTS} tests")
    return out


def _cases(
    config: Mapping[str, Any], read: Callable[[str], bytes], notes: list[Note]
) -> tuple[dict[str, Any], ...]:
    tests = _tests(config, read, notes)
    default = as_map(config.get("defaultTest"))
    base_vars = as_map(default.get("vars"))
    base_asserts = [
        a for item in default.get("assert") or [] for a in _assertion(item, notes, "defaultTest")
    ]
    cases = []
    for i, (where, test) in enumerate(tests):
        if not isinstance(test, Mapping):
            raise SourceError(f"{where} is not a mapping")
        case = _case(i, where, test, notes, base_vars=base_vars, base_asserts=base_asserts)
        if case is not None:
            cases.append(case)
    return tuple(cases)


def _provider(entry: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        ident, config = entry, {}
    elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
        ident, config = entry["id"], dict(entry.get("config") or {})
    else:
        raise SourceError("a provider must be a string or have an 'id'")
    provider, name = split_model_name(ident, "openai")
    if ":" in name:  # openai:chat:gpt-4o → chat:gpt-4o
        name = name.split(":")[-1]
    model: dict[str, Any] = {"provider": provider, "name": name}
    params = {
        k: v
        for k, v in config.items()
        if k in ("temperature", "max_tokens", "top_p", "seed", "stop")
    }
    if params:
        model["parameters"] = params
    return ident, model


_PROMPT_FUNCTIONS = (".py", ".js", ".mjs", ".cjs", ".ts")


def _providers(config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``providers`` (or ``targets``, its newer name): one model each, the first the prompt's."""
    listed = config.get("providers") or config.get("targets") or []
    found = [_provider(p) for p in (listed if isinstance(listed, list) else [listed])]
    return found or [("", {})]


def _prompt_text(
    entry: Any, read: Callable[[str], bytes], origin: str, notes: list[Note]
) -> tuple[str, str] | None:
    """A prompt's label and text; ``None`` (listed) for a prompt function."""
    label = None
    if isinstance(entry, Mapping):
        label = entry.get("label")
        entry = entry.get("raw") or entry.get("id")
    if not isinstance(entry, str):
        raise SourceError(f"{origin}: a prompt must be a string, or have 'raw' or 'id'")
    if entry.startswith("file://"):
        path = entry[len("file://") :]
        if path.split(":", 1)[0].endswith(_PROMPT_FUNCTIONS):
            notes.append(
                Note(
                    "import.unmapped",
                    f"the prompt function {entry!r} has no equivalent (promptship prompts are"
                    " templates); not imported",
                )
            )
            return None
        return str(label or path.rsplit("/", 1)[-1].rsplit(".", 1)[0]), decode(read(path), path)
    return str(label or ""), entry


def _messages(text: str, origin: str) -> tuple[tuple[str, str], ...] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        loaded = load_json(stripped, origin)
    except SourceError:
        return None
    if not isinstance(loaded, list) or not all(
        isinstance(m, Mapping) and "role" in m for m in loaded
    ):
        return None
    return tuple((str(m["role"]), str(m.get("content", ""))) for m in loaded)


def parse(config: Any, origin: str, read: Callable[[str], bytes]) -> list[SourcePrompt]:
    """The prompts of one promptfoo configuration, each with the suite of its tests.

    Args:
        config: The loaded configuration.
        origin: Its path, for findings.
        read: Reads a ``file://`` path (relative to the configuration's folder).

    Raises:
        SourceError: When it is not a promptfoo configuration.
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("prompts"), list | str):
        raise SourceError(
            f"{origin}: not a promptfoo configuration with prompts (no 'prompts')",
            hint="a configuration that tests an application through its providers holds no"
            " prompt to import",
        )
    notes: list[Note] = []
    prompts = config["prompts"] if isinstance(config["prompts"], list) else [config["prompts"]]
    providers = _providers(config)
    cases = _cases(config, read, notes)
    variants = {ident: {"model": model} for ident, model in providers[1:]}
    texts = [_prompt_text(entry, read, origin, notes) for entry in prompts]
    if all(t is None for t in texts):
        raise SourceError(f"{origin}: no prompt promptship can import (only prompt functions)")
    description = config.get("description")
    out = []
    for i, found in enumerate(texts):
        if found is None:
            continue
        label, text = found
        messages = _messages(text, origin)
        out.append(
            SourcePrompt(
                name=label or f"prompt_{i + 1}",
                origin=origin,
                syntax="jinja",
                messages=messages,
                text=None if messages is not None else text,
                model=providers[0][1],
                description=description if isinstance(description, str) else None,
                variants=json.loads(json.dumps(variants)),
                kind="promptfoo",
                notes=tuple(notes),
                cases=cases,
            )
        )
    return out
