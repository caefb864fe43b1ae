"""Schema violations of a value (type, pattern, enum) in a prompt author's words, pure.

jsonschema says ``0.1 is not of type 'string'`` and prints a semantic-version
regex; an author needs "the number 0.1 where text is expected" and the value to
write instead. Patterns the registry's schemas use are named here with the
value that would pass, when one can be derived from what was written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaViolation

from promptship.core.model import DocPath
from promptship.core.names import close_names

__all__ = ["in_words"]

_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping of fields",
    "array": "a list",
    "null": "null",
}


def _found(value: Any) -> str:
    """How a YAML value reads to its author."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return "a list"


def _short(value: str) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 60 else shown[:58] + '…"'


def _key(path: DocPath) -> str:
    return str(path[-1]) if path and isinstance(path[-1], str) else "the value"


def _semver(text: str) -> str | None:
    """``v1.2`` → ``1.2.0``: the version an author most likely meant, or ``None``."""
    m = re.fullmatch(r"[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not m:
        return None
    return ".".join(str(int(part or 0)) for part in m.groups())


def _slug(text: str) -> str | None:
    slug = re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")
    return slug or None


def _prompt_id(text: str) -> str | None:
    parts = [_slug(p) for p in text.split("/") if p not in ("", ".", "..")]
    return "/".join(p for p in parts if p) if len(parts) == 2 and all(parts) else None


_SEMVER = "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$"
_PATTERNS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    _SEMVER: ("a semantic version MAJOR.MINOR.PATCH such as 1.0.0", _semver),
    "^[a-z0-9][a-z0-9_-]{0,63}$": (
        "a name of lowercase letters, digits, '-' and '_' (64 at most)",
        _slug,
    ),
    "^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}$": (
        "a prompt id <namespace>/<name> of lowercase letters, digits, '-' and '_'",
        _prompt_id,
    ),
    "^[a-z][a-z0-9-]{0,31}$": (
        "an environment name of lowercase letters, digits and '-', starting with a letter",
        lambda t: (_slug(t) or "").replace("_", "-") or None,
    ),
    "^[a-z0-9][a-z0-9_.-]*$": ("a tag of lowercase letters, digits, '.', '-' and '_'", _slug),
    "^[0-9a-f]{40}$": ("a full commit id (40 hexadecimal digits)", lambda t: None),
    "^sha256:[0-9a-f]{64}$": ("sha256: and 64 hexadecimal digits", lambda t: None),
}
_OWNER = "^(@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?|[^@\\s]+@[^@\\s]+)$"
_PATTERNS[_OWNER] = (
    "a GitHub owner: @user, @org/team or an email address",
    lambda t: "@" + t if t and not t.startswith("@") and "@" not in t else None,
)


_NOT_TEXT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
)
"""Plain YAML 1.2 scalars that are not text (numbers, booleans, null)."""


def _write(path: DocPath, value: str) -> str:
    """``write key: value``, quoted when YAML would not read it as plain text."""
    plain = (
        re.fullmatch(r"[\w][\w ./-]*", value) is not None
        and not _NOT_TEXT.fullmatch(value)
        and value == value.strip()
    )
    return f"write {_key(path)}: {value if plain else json.dumps(value)}"


def _type(err: SchemaViolation, path: DocPath) -> tuple[str, str] | None:
    wanted = err.validator_value
    names = wanted if isinstance(wanted, list) else [wanted]
    expected = " or ".join(_TYPES.get(str(n), str(n)) for n in names)
    value = err.instance
    message = f"expected {expected}, found {_found(value)}"
    if "string" in names and isinstance(value, int | float | bool):
        text = json.dumps(value)
        fixed = _semver(text) if _key(path) == "version" else None
        if fixed is not None:
            return message, f"a version is text MAJOR.MINOR.PATCH: {_write(path, fixed)}"
        return message, f'quote it: {_key(path)}: "{text}"'
    if "array" in names and not isinstance(value, list):
        return message, f"write a list: {_key(path)}: [{json.dumps(value)}], or one '- item' a line"
    if value is None:
        return message, f"give {_key(path)} a value, or remove the key"
    if isinstance(value, str) and {"number", "integer"} & set(names) and _NOT_TEXT.fullmatch(value):
        return message, f"remove the quotes: {_key(path)}: {value}"
    return message, f"write {_key(path)} as {expected}"


def _pattern(err: SchemaViolation, path: DocPath) -> tuple[str, str] | None:
    known = _PATTERNS.get(str(err.validator_value))
    if known is None or not isinstance(err.instance, str):
        return None
    what, fix = known
    fixed = fix(err.instance)
    message = f"{_short(err.instance)} is not {what}"
    if fixed is not None and fixed != err.instance:
        return message, _write(path, fixed)
    return message, f"write {_key(path)} as {what}"


def _enum(err: SchemaViolation, path: DocPath) -> tuple[str, str] | None:
    allowed = err.validator_value
    if not isinstance(allowed, list):
        return None
    options = [o for o in allowed if isinstance(o, str)]
    if not options or len(options) != len(allowed):
        return None
    value = err.instance
    message = f"{_found(value)} is not one of {', '.join(options)}"
    close = close_names(str(value), options, n=1) if isinstance(value, str) else []
    if close:
        return message, f"did you mean '{close[0]}'? {_write(path, close[0])}"
    return message, f"use one of {', '.join(options)}"


_BY_KEYWORD = {"type": _type, "pattern": _pattern, "enum": _enum}


def in_words(err: SchemaViolation, path: DocPath) -> tuple[str, str] | None:
    """The message and hint for a value's type, pattern or enum violation (``None``: other)."""
    told = _BY_KEYWORD.get(str(err.validator))
    return told(err, path) if told is not None else None
