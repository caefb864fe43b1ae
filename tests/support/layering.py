"""The package map of ``tools/promptship`` and a checker that holds the code to it.

The map (:data:`RANKS`, :data:`PURE`, :data:`OWNED`) is the one
``docs/architecture.md`` shows; :func:`check` walks every module of a package
tree (the real one, or a temporary copy with violations injected) and returns
each import or call that breaks a rule. :func:`mermaid` draws the package graph
from the imports the code really makes, so the picture in the docs cannot drift.

Rules:

1. Every module lives in a domain package; the package root holds only
   ``__init__.py`` and ``__main__.py``.
2. A package imports only packages of a lower rank. Packages of the same rank
   (``history``/``release``/``interop``, ``evals``/``gate``/``adopt``/``analytics``, ``client``/``review``)
   never import each other.
3. Every import form counts: ``import a.b``, ``from a import b``, relative
   imports, and ``importlib.import_module`` / ``__import__`` with a literal name
   (or an f-string's literal prefix).
4. A third-party library owned by one module is imported by that module only.
5. Pure units (whole packages or single modules) import only pure units, no
   I/O module (files, processes, sockets, HTTP, clocks), and call no clock or
   file function.
6. The modules of a package import each other without a cycle (ranks already
   rule one out between packages). Every import counts, ``TYPE_CHECKING`` and
   function-local ones included, but ``from a import b`` of a submodule ``b``
   is an edge to ``a.b`` only, and an f-string's prefix is no edge. The import
   reported is the one that closes the cycle when each package is walked from
   its ``__init__``, imports in source order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tools" / "promptship"

# Rank of every domain package: a package imports strictly lower ranks only.
RANKS: dict[str, int] = {
    "core": 0,
    "schemas": 1,
    "git": 1,
    "fs": 1,
    "events": 1,
    "assertions": 1,
    "registry": 2,
    "history": 3,
    "release": 3,
    "interop": 3,
    "evals": 4,
    "gate": 4,
    "adopt": 4,
    "analytics": 4,
    "client": 5,
    "review": 5,
    "cli": 6,
}
ROOT_MODULES = {"__init__": 7, "__main__": 7}
# What any module may take from the root package itself.
ROOT_ATTRIBUTES = frozenset({"promptship", "promptship.__version__"})

# Pure units: a dotted name under promptship, a package (everything below it) or a module.
PURE: frozenset[str] = frozenset(
    {
        "core",
        "registry.checks",
        "registry.yamlhelp",
        "registry.yamlscalars",
        "history.diff",
        "history.report",
        "history.versions",
        "release.manifest",
        "release.canonical",
        "release.attestation",
        "release.allowed_signers",
        "release.sshsig",
        "release.bundle",
        "release.ustar",
        "release.channel",
        "release.document",
        "events.redact",
        "assertions",
        "gate.rules",
        "gate.report",
        "gate.promotion.pins",
        "registry.schemaref",
        "interop.templates",
        "interop.toolmap",
        "interop.export_view",
        "interop.export_json",
        "interop.model",
        "interop.names",
        "interop.overlays",
        "interop.pieces",
        "interop.readers",
        "interop.jinja_out",
        "gate.promotion.drift",
        "events.fields",
        "events.edits",
        "events.capture",
        "analytics.sql",
        "analytics.ingest",
        "analytics.stats",
        "review.agreement",
        "review.sample",
        "review.verdicts",
    }
)

# Third-party libraries that exactly one unit (module or package) may import.
OWNED: dict[str, str] = {
    "ruamel": "registry.yamlio",
    "pygit2": "git",
    "click": "cli",
    "deepdiff": "history.diff",
    "oras": "release.store.oci",
    "requests": "release.store.oci",
    "re2": "core.regex",
    "duckdb": "analytics.engines",
    "chdb": "analytics.engines",
    "plotly": "analytics.html",
    "starlette": "review.server",
    "uvicorn": "review.server",
}

# Modules whose import means I/O or a clock; forbidden in pure units.
IO_MODULES = frozenset(
    {
        "os",
        "pathlib",
        "shutil",
        "subprocess",
        "tempfile",
        "io",
        "socket",
        "ssl",
        "select",
        "urllib",
        "http",
        "httpx",
        "httpcore",
        "requests",
        "time",
        "random",
        "secrets",
        "threading",
        "multiprocessing",
        "sqlite3",
    }
)
# Calls that read a file, the clock or the environment, whatever they are called on.
IO_CALLS = frozenset(
    {
        "open",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "mkdir",
        "unlink",
        "now",
        "utcnow",
        "today",
        "getenv",
    }
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, which rule, and what was found."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class Import:
    """A module name an import statement or call brings in, and its line."""

    name: str
    line: int


def modules(package: Path = PACKAGE) -> list[Path]:
    """Every ``.py`` file of the package tree, sorted."""
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path, package: Path = PACKAGE) -> str:
    """``core.render`` for ``.../promptship/core/render.py``; ``core`` for its ``__init__``."""
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _within(name: str, unit: str) -> bool:
    return name == unit or name.startswith(unit + ".")


def is_pure(name: str) -> bool:
    """Whether the dotted module ``name`` (under promptship) belongs to a pure unit."""
    return any(_within(name, unit) for unit in PURE)


def _literal_prefix(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.rstrip(".")
    return None


def _dynamic_import(node: ast.Call) -> str | None:
    fn = node.func
    called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
    if called not in {"import_module", "__import__"} or not node.args:
        return None
    return _literal_prefix(node.args[0])


def _relative_base(path: Path, package: Path, level: int) -> list[str]:
    parts = ["promptship", *path.relative_to(package).with_suffix("").parts]
    return parts[: len(parts) - level]


def imports(path: Path, package: Path = PACKAGE) -> Iterator[Import]:
    """Every module name ``path`` imports, in any form, absolute (``promptship.x.y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(_relative_base(path, package, node.level))
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield Import(module, node.lineno)
            for alias in node.names:
                if module.startswith("promptship") and alias.name != "*":
                    yield Import(f"{module}.{alias.name}", node.lineno)
        elif isinstance(node, ast.Call):
            name = _dynamic_import(node)
            if name:
                yield Import(name, node.lineno)


def _resolve(name: str, package: Path) -> str | None:
    """The longest existing promptship module or package that ``name`` names, dotted."""
    parts = name.split(".")[1:]
    while parts:
        candidate = package.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


def _rank(name: str) -> int | None:
    top = name.split(".", maxsplit=1)[0]
    return RANKS.get(top, ROOT_MODULES.get(top))


def _check_placement(me: str, rel: str) -> Iterator[Violation]:
    if _rank(me) is None:
        yield Violation(rel, 1, "placement", f"{me} is in no domain package (see RANKS)")


def _check_internal(me: str, rel: str, imp: Import, package: Path) -> Iterator[Violation]:
    target = _resolve(imp.name, package)
    if target is None:
        yield Violation(rel, imp.line, "unknown", f"imports {imp.name}, which does not exist")
        return
    mine, theirs = me.split(".", maxsplit=1)[0], target.split(".")[0]
    if mine != theirs:
        my_rank, their_rank = _rank(me), _rank(target)
        if my_rank is not None and their_rank is not None and their_rank >= my_rank:
            kind = "sibling" if their_rank == my_rank else "upward"
            yield Violation(
                rel,
                imp.line,
                kind,
                f"{mine} (rank {my_rank}) imports {theirs} (rank {their_rank}): {imp.name}",
            )
    if is_pure(me) and not is_pure(target) and target != "":
        yield Violation(rel, imp.line, "pure", f"pure {me} imports impure {target}")


def _check_external(me: str, rel: str, imp: Import) -> Iterator[Violation]:
    root = imp.name.split(".")[0]
    owner = OWNED.get(root)
    if owner is not None and not _within(me, owner):
        yield Violation(rel, imp.line, "owned", f"imports {root}: only {owner} may")
    if is_pure(me) and root in IO_MODULES:
        yield Violation(rel, imp.line, "pure", f"pure {me} imports {imp.name}")


def _check_calls(me: str, rel: str, tree: ast.AST) -> Iterator[Violation]:
    if not is_pure(me):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            called = (
                fn.id
                if isinstance(fn, ast.Name)
                else fn.attr
                if isinstance(fn, ast.Attribute)
                else ""
            )
            if called in IO_CALLS:
                yield Violation(rel, node.lineno, "pure", f"pure {me} calls {called}()")


def _from_targets(node: ast.ImportFrom, path: Path, package: Path) -> Iterator[str]:
    """What ``from a import b, c`` needs (absolute): ``a.b`` where ``b`` is a module, else ``a``."""
    if node.level:
        module = ".".join(
            _relative_base(path, package, node.level) + ([node.module] if node.module else [])
        )
    else:
        module = node.module or ""
    if not module.startswith("promptship"):
        return
    for alias in node.names:
        whole = f"{module}.{alias.name}"
        yield whole if _resolve(whole, package) == whole.removeprefix("promptship.") else module


def _needs(path: Path, package: Path) -> list[Import]:
    """The promptship modules ``path`` imports (dotted), in source order, itself left out.

    Unlike :func:`imports`, ``from a import b`` needs only ``a.b`` when ``b`` is a
    module: taking a submodule from its package is no edge to the package.
    """
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            names = list(_from_targets(node, path, package))
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            # a literal name only: an f-string's prefix names a package, not what is loaded
            arg = node.args[0]
            names = (
                [arg.value] if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else []
            )
        else:
            continue
        for name in names:
            target = _resolve(name, package) if name.startswith("promptship.") else None
            if target and target != dotted(path, package):
                found.append(Import(target, node.lineno))
    return sorted(set(found), key=lambda i: (i.line, i.name))


def module_graph(package: Path = PACKAGE) -> dict[str, list[Import]]:
    """Each module (dotted) and the promptship modules it imports, in source order."""
    return {dotted(path, package): _needs(path, package) for path in modules(package)}


def _path_of(name: str, package: Path) -> Path:
    """The file of the dotted module ``name`` (a package's ``__init__.py``)."""
    base = package.joinpath(*name.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"


def _check_cycles(package: Path) -> list[Violation]:
    """The imports that close a cycle inside a package.

    The walk is depth first, each package from its ``__init__`` and each module's
    imports in source order, so the import reported is the one that would find
    its target half-initialised. Removing every import reported leaves no cycle
    (they are the walk's back edges).
    """
    graph = module_graph(package)
    done: set[str] = set()
    stack: list[str] = []
    found: list[Violation] = []

    def visit(me: str) -> None:
        stack.append(me)
        mine = me.split(".", maxsplit=1)[0]
        for imp in graph.get(me, ()):
            if imp.name.split(".", maxsplit=1)[0] != mine:
                continue  # between packages, ranks already rule a cycle out
            if imp.name in stack:
                cycle = " → ".join([*stack[stack.index(imp.name) :], imp.name])
                found.append(
                    Violation(
                        str(_path_of(me, package).relative_to(package.parent)),
                        imp.line,
                        "cycle",
                        f"{me} imports {imp.name}, which imports it back: {cycle}",
                    )
                )
            elif imp.name not in done:
                visit(imp.name)
        stack.pop()
        done.add(me)

    for name in sorted(graph):
        if name not in done:
            visit(name)
    return found


def check(package: Path = PACKAGE) -> list[Violation]:
    """Every rule violation in the package tree at ``package``."""
    found: list[Violation] = []
    for path in modules(package):
        me = dotted(path, package)
        rel = str(path.relative_to(package.parent))
        found.extend(_check_placement(me, rel))
        for imp in imports(path, package):
            if imp.name in ROOT_ATTRIBUTES:
                continue
            if imp.name.startswith("promptship."):
                found.extend(_check_internal(me, rel, imp, package))
            else:
                found.extend(_check_external(me, rel, imp))
        found.extend(_check_calls(me, rel, ast.parse(path.read_text(encoding="utf-8"))))
    found.extend(_check_cycles(package))
    return found


def package_edges(package: Path = PACKAGE) -> set[tuple[str, str]]:
    """(importer, imported) pairs of domain packages, from the imports the code makes."""
    edges: set[tuple[str, str]] = set()
    for path in modules(package):
        mine = dotted(path, package).split(".")[0]
        if mine not in RANKS:
            continue
        for imp in imports(path, package):
            target = _resolve(imp.name, package) if imp.name.startswith("promptship.") else None
            if target:
                theirs = target.split(".")[0]
                if theirs != mine and theirs in RANKS:
                    edges.add((mine, theirs))
    return edges


def _reduced(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges not implied by a longer path (a transitive reduction of the DAG)."""
    reach: dict[str, set[str]] = {}
    for a, b in edges:
        reach.setdefault(a, set()).add(b)

    def reachable(src: str, skip: tuple[str, str]) -> set[str]:
        seen: set[str] = set()
        todo = [n for n in reach.get(src, ()) if (src, n) != skip]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(reach.get(n, ()))
        return seen

    return {(a, b) for a, b in edges if b not in reachable(a, (a, b))}


def mermaid(package: Path = PACKAGE) -> str:
    """The package graph as a mermaid flowchart (top packages first, direct edges only)."""
    lines = ["```mermaid", "flowchart TD"]
    for name in sorted(RANKS, key=lambda n: (-RANKS[n], n)):
        pure = " (pure)" if name in PURE else ""
        lines.append(f'    {name}["{name}{pure}"]')
    for a, b in sorted(_reduced(package_edges(package)), key=lambda e: (-RANKS[e[0]], e)):
        lines.append(f"    {a} --> {b}")
    lines.append("```")
    return "\n".join(lines) + "\n"
