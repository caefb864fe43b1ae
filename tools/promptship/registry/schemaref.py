"""The ``yaml-language-server`` line a new registry file gets, so editors find its schema, pure.

A registry that holds the schemas itself (promptship's own repository:
``schemas/`` at its root) points at them with relative paths; a registry made
by ``promptship init`` holds no promptship source, and its files point at the
schemas of the pinned tool commit by URL. A new file (``promptship new``,
``promptship import``) follows the registry's own files, so its line resolves
the way theirs do; a registry with neither gets no line rather than one that
resolves nowhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from promptship.core.errors import PromptshipError
from promptship.core.model import Snapshot

__all__ = ["RELATIVE", "SchemaRef", "schema_ref"]

_LINE = re.compile(
    r"^# yaml-language-server: \$schema=(?P<base>\S*?)[a-z]+\.schema\.json[ \t]*$", re.M
)
_RELATIVE = re.compile(r"^(\.\./)*schemas/$")
_HEAD_BYTES = 4096
_LOOKED_AT = 50


@dataclass(frozen=True)
class SchemaRef:
    """How a registry's files name their schema.

    Attributes:
        kind: ``url`` (absolute, ``base`` + name), ``relative`` (the repository
            root's ``schemas/`` folder) or ``none`` (no line).
        base: For ``url``: everything before ``<name>.schema.json``.
    """

    kind: Literal["url", "relative", "none"]
    base: str = ""

    def line(self, schema: str, path: str) -> str:
        """The comment line (with its newline) for a file at ``path`` of schema ``schema``; or ""."""
        if self.kind == "url":
            return f"# yaml-language-server: $schema={self.base}{schema}.schema.json\n"
        if self.kind == "relative":
            up = "../" * path.count("/")
            return f"# yaml-language-server: $schema={up}schemas/{schema}.schema.json\n"
        return ""


RELATIVE = SchemaRef("relative")
"""The lines of promptship's own repository (its ``schemas/`` at the root)."""


def schema_ref(snapshot: Snapshot) -> SchemaRef:
    """What the registry's own files do: the first schema line found decides (none: no line)."""
    paths = snapshot.list_files("environments/") + snapshot.list_files("registry/")
    for path in [p for p in paths if p.endswith((".yaml", ".yml"))][:_LOOKED_AT]:
        try:
            head = snapshot.read(path)[:_HEAD_BYTES].decode("utf-8", errors="replace")
        except (PromptshipError, OSError):
            continue
        m = _LINE.search(head)
        if m and m["base"].startswith("https://"):
            return SchemaRef("url", m["base"])
        if m and _RELATIVE.match(m["base"]):
            return SchemaRef("relative")
    return SchemaRef("none")
