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
    test: Any,
    base_vars: Mapping[str, Any],
    base_asserts: list[dict[str, Any]],
    notes: list[Note],
) -> dict[str, Any]:
    if not isinstance(test, Mapping):
        raise SourceError(f"tests[{i}] is not a mapping")
    case: dict[str, Any] = {"id": f"case-{i + 1}"}
    if isinstance(test.get("description"), str):
        case["description"] = test["description"]
    case["inputs"] = {**base_vars, **as_map(test.get("vars"))}
    asserts = base_asserts + [
        a for item in test.get("assert") or [] for a in _assertion(item, notes, f"tests[{i}]")
    ]
    if asserts:
        case["assert"] = asserts
    return case


def _cases(config: Mapping[str, Any], notes: list[Note]) -> tuple[dict[str, Any], ...]:
    tests = config.get("tests") or []
    if isinstance(tests, str):
        notes.append(
            Note(
                "import.unmapped",
                f"tests from {tests!r} are not read; write the cases into the suite",
            )
        )
        return ()
    if not isinstance(tests, list) or len(tests) > MAX_TESTS:
        raise SourceError(f"'tests' must be a list of at most {MAX_TESTS} tests")
    default = as_map(config.get("defaultTest"))
    base_vars = as_map(default.get("vars"))
    base_asserts = [
        a for item in default.get("assert") or [] for a in _assertion(item, notes, "defaultTest")
    ]
    return tuple(_case(i, test, base_vars, base_asserts, notes) for i, test in enumerate(tests))


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


def _prompt_text(entry: Any, read: Callable[[str], bytes], origin: str) -> tuple[str, str]:
    label = None
    if isinstance(entry, Mapping):
        label = entry.get("label")
        entry = entry.get("raw") or entry.get("id")
    if not isinstance(entry, str):
        raise SourceError(f"{origin}: a prompt must be a string, or have 'raw' or 'id'")
    if entry.startswith("file://"):
        path = entry[len("file://") :]
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
        raise SourceError(f"{origin}: not a promptfoo configuration (no 'prompts')")
    notes: list[Note] = []
    prompts = config["prompts"] if isinstance(config["prompts"], list) else [config["prompts"]]
    providers = [_provider(p) for p in config.get("providers") or []] or [("", {})]
    cases = _cases(config, notes)
    variants = {ident: {"model": model} for ident, model in providers[1:]}
    out = []
    for i, entry in enumerate(prompts):
        label, text = _prompt_text(entry, read, origin)
        messages = _messages(text, origin)
        out.append(
            SourcePrompt(
                name=label or f"prompt_{i + 1}",
                origin=origin,
                syntax="jinja",
                messages=messages,
                text=None if messages is not None else text,
                model=providers[0][1],
                description=config.get("description")
                if isinstance(config.get("description"), str)
                else None,
                variants=json.loads(json.dumps(variants)),
                kind="promptfoo",
                notes=tuple(notes),
                cases=cases,
            )
        )
    return out
