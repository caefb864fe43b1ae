"""Enforce the import boundaries of DESIGN.md §9 by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tools" / "promptship"

# Layer rank of every module (top-level name under promptship). A module may
# import modules of its own rank or lower, never higher; pure modules (rank 1)
# may not import adapters (rank 2) even though both sit below the use cases.
BASE, PURE, ADAPTER, USECASE, TOP = 0, 1, 2, 3, 4
LAYERS: dict[str, int] = {
    "__init__": TOP,
    "__main__": TOP,
    "errors": BASE,
    "model": BASE,
    "overlay": PURE,
    "validate": PURE,
    "render": PURE,
    "variants": PURE,
    "owners": PURE,
    "diff": PURE,
    "diffreport": PURE,
    "gate": PURE,
    "attest": PURE,
    "gatereport": PURE,
    "manifest": PURE,
    "redact": PURE,
    "semver": PURE,
    "signers": PURE,
    "assertions": PURE,
    "templates": PURE,
    "views": PURE,
    "promotionreport": PURE,
    "schemas": ADAPTER,
    "yamlio": ADAPTER,
    "gitsource": ADAPTER,
    "fssource": ADAPTER,
    "bundle": ADAPTER,
    "signing": ADAPTER,
    "store": ADAPTER,
    "oci": ADAPTER,
    "providers": ADAPTER,
    "events": ADAPTER,
    "sinks": ADAPTER,
    "cache": ADAPTER,
    "registry": USECASE,
    "release": USECASE,
    "evals": USECASE,
    "history": USECASE,
    "gating": USECASE,
    "timeline": USECASE,
    "promotion": USECASE,
    "client": TOP,
    "cli": TOP,
}

# Third-party libraries that exactly one module (or package) may import.
OWNED_IMPORTS: dict[str, set[str]] = {
    "ruamel": {"yamlio"},
    "pygit2": {"gitsource"},
    "click": {"cli"},
    "deepdiff": {"diff"},
    "oras": {"oci"},
    "requests": {"oci"},
}

# Names whose use means a module does file or process I/O.
IO_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink"}
IO_MODULES = {"os", "pathlib", "shutil", "subprocess", "tempfile", "io", "socket", "httpx"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _top_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "promptship":
                names.extend(
                    f"promptship.{a.name}"
                    for a in node.names
                    if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()
                )
    return names


def test_every_module_has_a_layer() -> None:
    unknown = {_top_name(p) for p in _modules()} - set(LAYERS)
    assert not unknown, f"classify these modules in LAYERS (DESIGN §9): {sorted(unknown)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_respect_layers(path: Path) -> None:
    me = _top_name(path)
    rank = LAYERS[me]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        root = name.split(".")[0]
        if root in OWNED_IMPORTS:
            assert me in OWNED_IMPORTS[root], (
                f"{path.name} imports {root}: only {OWNED_IMPORTS[root]} may"
            )
        if root != "promptship" or name == "promptship":
            continue
        target = name.split(".")[1]
        if target == me:
            continue
        assert target in LAYERS, f"{path.name} imports unknown module {name}"
        trank = LAYERS[target]
        assert trank <= rank, f"{me} (rank {rank}) imports {target} (rank {trank}) upwards"
        if rank == PURE:
            assert trank in (BASE, PURE), f"pure module {me} imports adapter {target}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if LAYERS[_top_name(p)] in (BASE, PURE)],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_pure_modules_do_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree):
        assert name.split(".")[0] not in IO_MODULES, f"pure module {path.name} imports {name}"
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
            assert called not in IO_CALLS, (
                f"pure module {path.name} calls {called}() at line {node.lineno}"
            )


def test_the_layering_check_catches_a_violation(tmp_path: Path) -> None:
    """The walker itself must see an upward import (guards against a vacuous test)."""
    tree = ast.parse("from promptship.cli import main\nimport pygit2\n")
    assert _imports(tree) == ["promptship.cli", "pygit2"]
