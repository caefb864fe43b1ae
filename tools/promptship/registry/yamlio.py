"""YAML in and out: the only module that imports ruamel.yaml.

Two jobs:

* :func:`load` turns a file's bytes into plain Python values plus the line and
  column of every key and value. It enforces the registry's YAML rules (DESIGN
  §3): YAML 1.2 core schema, one document, UTF-8, and no duplicate keys,
  anchors, aliases, merge keys or tags; files over a size cap are refused
  before parsing and nesting deeper than a cap is refused while parsing;
  numbers must be what JSON (and so a bundle) carries: integers within
  ±(2**53 - 1), finite floats (no ``.nan``, ``.inf``, ``1e999``). It
  builds values straight from the parser's events, so no alias is ever
  expanded and deep nesting never recurses.
* :func:`roundtrip_load` / :func:`roundtrip_dump` edit files while keeping
  comments, order and quoting byte for byte (for ``new``, ``promote``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from promptship.core.errors import Location, YamlError
from promptship.core.model import DocPath as Path
from promptship.core.model import YamlDoc
from promptship.core.textsafe import has_invisible
from promptship.registry import yamlhelp
from promptship.registry.yamlscalars import NUMBER_HINT, NotJson, plain_key, resolve_scalar

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "YamlDoc",
    "literal",
    "load",
    "quoted",
    "roundtrip_dump",
    "roundtrip_load",
]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64


def _fail(path: str, message: str, hint: str, line: int = 1, col: int = 1) -> YamlError:
    return YamlError(message, hint=hint, location=Location(path, line, col))


def _decode(data: bytes, path: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise _fail(
            path,
            f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit",
            "split it, or move long texts into fragments",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(
            path,
            f"not valid UTF-8 (byte 0x{data[e.start]:02x})",
            "save the file as UTF-8",
            line,
            col,
        ) from None


try:  # libyaml's event parser, shipped by ruamel.yaml.clib: ~25x faster than pure Python
    from ruamel.yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the pure parser gives the same events
    _CParser = None

Engine = Literal["auto", "c", "pure"]


def _events(text: str, engine: Engine) -> Callable[[], ev.Event]:
    """The parser's next event, one per call, to the stream's end."""
    if engine != "pure" and _CParser is not None:
        return _CParser(text).get_event  # type: ignore[no-any-return]
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    events: Callable[[], ev.Event] = iter(yaml.parse(io.StringIO(text))).__next__
    return events


def load(
    data: bytes,
    path: str,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_depth: int = MAX_DEPTH,
    engine: Engine = "auto",
) -> YamlDoc:
    """Parse one YAML file under the registry's rules.

    Args:
        data: The file's bytes.
        path: Its path, used in every message.
        max_bytes: Files larger than this are refused before parsing.
        max_depth: Nesting deeper than this is refused.
        engine: ``c`` (libyaml through ruamel.yaml.clib, the default when
            installed) or ``pure``; both give the same events.

    Returns:
        The document's plain values and the positions of its keys and values.

    Raises:
        YamlError: With file:line:col for syntax errors, non-UTF-8 bytes, size and
            depth limits, duplicate keys, anchors, aliases, merge keys, tags,
            non-string or complex keys, empty files and multiple documents.
    """
    text = _decode(data, path, max_bytes)
    try:
        # an escape can write any character: then the strings are looked at one by one
        visible = "\\" not in text and not has_invisible(text)
        doc = _build(_events(text, engine), path, max_depth, text, visible)
    except _ComplexKey as e:
        told = yamlhelp.explain_complex_key(text, *e.pos)
        raise _fail(path, told.message, told.hint, told.line, told.col) from None
    except MarkedYAMLError as e:
        told = _explain(e, text)
        raise _fail(path, told.message, told.hint, told.line, told.col) from None
    except YAMLError as e:
        raise _fail(path, f"YAML error: {e}", "check the file's syntax") from None
    return doc


def _explain(e: MarkedYAMLError, text: str) -> yamlhelp.Explained:
    """A parser's syntax error in the author's words (:mod:`promptship.registry.yamlhelp`)."""
    mark = e.problem_mark or e.context_mark
    at = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    context = e.context_mark
    return yamlhelp.explain(
        str(e.problem or e.context or "invalid YAML"),
        e.context,
        text,
        at,
        (context.line + 1, context.column + 1) if context else None,
    )


class _ComplexKey(Exception):
    """A mapping or list used as a key (told with the file's text by :func:`load`)."""

    def __init__(self, pos: tuple[int, int]) -> None:
        super().__init__(pos)
        self.pos = pos


def _build(
    next_event: Callable[[], ev.Event],
    path: str,
    max_depth: int,
    text: str = "",
    visible: bool = False,
) -> YamlDoc:
    """The document of the events ``next_event`` gives, each passed to its kind's handler."""
    builder = _Builder(path, max_depth, text)
    handlers = _HANDLERS
    while True:
        event = next_event()
        handler = handlers.get(type(event))
        if handler is None:
            handler = _handler_for(type(event))
        if handler(builder, event):
            return builder.finish(visible)  # the stream's end


class _Frame:
    """An open mapping or sequence: its container, its path, and a mapping's pending key."""

    __slots__ = ("container", "key", "key_pos", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.key: str | None = None
        self.key_pos: tuple[int, int] = (0, 0)


_PLAIN_TAGS = (None, "!")
"""The tags a node may carry: none, or the non-specific ``!``."""


def _pos(event: ev.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1)


class _Builder:
    """Plain values and their positions, built from one file's parser events.

    Each event kind has one handler (:data:`_HANDLERS`); open containers are a
    stack of :class:`_Frame`, so nesting never recurses.
    """

    __slots__ = (
        "blocks", "documents", "keys", "lines", "max_depth", "path", "root", "stack", "text",
        "values",
    )  # fmt: skip

    def __init__(self, path: str, max_depth: int, text: str = "") -> None:
        self.path = path
        self.text = text
        self.lines: list[str] | None = None  # the text's lines, split when a block needs them
        self.blocks: dict[tuple[int, int], tuple[int, int]] = {}
        self.max_depth = max_depth
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.stack: list[_Frame] = []
        self.root: list[Any] = []  # empty until the document's root value is placed
        self.documents = 0

    def fail(self, message: str, hint: str, pos: tuple[int, int]) -> YamlError:
        return _fail(self.path, message, hint, *pos)

    def finish(self, visible: bool = False) -> YamlDoc:
        if not self.root:
            raise _fail(self.path, "the file is empty", "write the document's fields")
        return YamlDoc(self.path, self.root[0], self.values, self.keys, self.blocks, visible)

    def block_start(self, indicator_line: int) -> tuple[int, int]:
        """Line and column (1-based) where a literal block's text starts.

        ``indicator_line`` is the 0-based line of its ``|``; the text starts on the
        next line, at the indentation of its first line that is not blank.
        """
        if self.lines is None:
            self.lines = self.text.split("\n")
        first = indicator_line + 1
        for line in self.lines[first : first + 1000]:
            if line.strip():
                return (first + 1, len(line) - len(line.lstrip(" ")) + 1)
        return (first + 1, 1)

    def place(self, value: Any, pos: tuple[int, int]) -> None:
        """Put a value where the innermost open container expects it."""
        if not self.stack:
            self.root.append(value)
            self.values[()] = pos
            return
        frame = self.stack[-1]
        container = frame.container
        if isinstance(container, list):
            self.values[(*frame.path, len(container))] = pos
            container.append(value)
            return
        key = frame.key
        if key is None:
            raise self.fail("a mapping key must be a plain string", "quote the key", pos)
        here = (*frame.path, key)
        container[key] = value
        self.values[here] = pos
        self.keys[here] = frame.key_pos
        frame.key = None

    def refuse_node(self, event: ev.NodeEvent, pos: tuple[int, int]) -> None:
        """Refuse a node's anchor or tag (aliases are refused as events)."""
        if event.anchor is not None:
            raise self.fail(
                f"anchor '&{event.anchor}' is not allowed",
                "write the value out in full; share text with fragments instead",
                pos,
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":
            raise self.fail(
                f"tag '{tag}' is not allowed",
                "remove the tag; quote the value if it must be a string",
                pos,
            )

    def on_alias(self, event: ev.AliasEvent) -> None:
        raise self.fail(
            f"alias '*{event.anchor}' is not allowed",
            "write the value out in full; share text with fragments instead",
            _pos(event),
        )

    def on_document(self, event: ev.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            raise self.fail(
                "more than one YAML document", "keep one document per file", _pos(event)
            )

    def on_scalar(self, event: ev.ScalarEvent) -> None:
        mark = event.start_mark
        pos = (mark.line + 1, mark.column + 1)
        if event.anchor is not None or event.tag not in _PLAIN_TAGS:
            self.refuse_node(event, pos)
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.container, dict) and frame.key is None:
            self.take_key(frame, event, pos)
            return
        try:
            value = resolve_scalar(event.value, event)
        except NotJson as e:
            raise self.fail(str(e), NUMBER_HINT, pos) from None
        if (
            value is None
            and event.value == ""
            and frame is not None
            and isinstance(frame.container, dict)
        ):
            pos = frame.key_pos  # an empty value is reported at its key
        elif event.style == "|" and self.text:
            self.blocks[pos] = self.block_start(mark.line)
        self.place(value, pos)

    def take_key(self, frame: _Frame, event: ev.ScalarEvent, pos: tuple[int, int]) -> None:
        """Record a mapping's next key: a plain string, not ``<<``, not seen before."""
        key = event.value
        if not event.style and plain_key(key, event) is not key:
            raise self.fail(
                f"key {key[:40]!r} is not a string", "keys must be strings; quote it", pos
            )
        if key == "<<" and not event.style:
            raise self.fail("merge keys ('<<') are not allowed", "write the keys out in full", pos)
        if key in frame.container:
            first = self.keys.get((*frame.path, key), (0, 0))
            raise self.fail(
                f"duplicate key '{key}' (first defined at line {first[0]})",
                "remove one of the two",
                pos,
            )
        frame.key = key
        frame.key_pos = pos

    def on_start(self, event: ev.CollectionStartEvent) -> None:
        mark = event.start_mark
        pos = (mark.line + 1, mark.column + 1)
        if event.anchor is not None or event.tag not in _PLAIN_TAGS:
            self.refuse_node(event, pos)
        if len(self.stack) >= self.max_depth:
            raise self.fail(
                f"nesting deeper than {self.max_depth} levels", "flatten the structure", pos
            )
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            child: Path = ()
        elif isinstance(parent.container, list):
            child = (*parent.path, len(parent.container))
        elif parent.key is None:
            raise _ComplexKey(pos)
        else:
            child = (*parent.path, parent.key)
        container: dict[str, Any] | list[Any] = (
            {} if isinstance(event, ev.MappingStartEvent) else []
        )
        self.place(container, pos)
        self.stack.append(_Frame(container, child))

    def on_end(self, event: ev.CollectionEndEvent) -> None:
        self.stack.pop()

    def ignore(self, event: ev.Event) -> None:
        pass

    def on_stream_end(self, event: ev.StreamEndEvent) -> bool:
        return True


_Handler = Callable[[_Builder, Any], bool | None]
_BY_KIND: tuple[tuple[type[ev.Event], _Handler], ...] = (
    (ev.StreamEndEvent, _Builder.on_stream_end),
    (ev.AliasEvent, _Builder.on_alias),
    (ev.DocumentStartEvent, _Builder.on_document),
    (ev.ScalarEvent, _Builder.on_scalar),
    (ev.CollectionStartEvent, _Builder.on_start),
    (ev.CollectionEndEvent, _Builder.on_end),
)
_HANDLERS: dict[type[ev.Event], _Handler] = {}
"""Handler by event class, filled on first sight of each class by :func:`_handler_for`."""


def _handler_for(kind: type[ev.Event]) -> _Handler:
    """The handler of an event class (the first kind it is a subclass of); others are ignored."""
    handler = next((h for base, h in _BY_KIND if issubclass(kind, base)), _Builder.ignore)
    _HANDLERS[kind] = handler
    return handler


def _roundtrip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.version = None
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def roundtrip_load(text: str) -> Any:
    """Load YAML for editing, keeping comments, order and quoting.

    Raises:
        YamlError: If the text is not valid YAML.
    """
    try:
        return _roundtrip_yaml().load(text)
    except YAMLError as e:
        raise YamlError(f"YAML error: {e}") from None


def roundtrip_dump(data: Any) -> str:
    """Dump data loaded by :func:`roundtrip_load` (or plain values) in the registry's style."""
    out = io.StringIO()
    _roundtrip_yaml().dump(data, out)
    return out.getvalue()


def quoted(text: str) -> Any:
    """``text`` as a scalar :func:`roundtrip_dump` writes in double quotes.

    For values that must stay strings whatever they look like (a commit id of
    only digits would otherwise load back as a number).
    """
    return DoubleQuotedScalarString(text)


def literal(text: str) -> Any:
    """``text`` as a scalar :func:`roundtrip_dump` writes as a literal block (``|``).

    For multi-line texts (templates); the caller checks the dump loads back equal,
    since a literal block cannot hold every string (control characters, a
    trailing space before a line break).
    """
    return LiteralScalarString(text)
