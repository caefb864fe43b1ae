"""Properties of ``promptship.core.overlay`` over generated documents (hypothesis).

Sources are real YAML: generated values are dumped with ``roundtrip_dump`` and
loaded with ``yamlio.load``, so origins point at lines of actual text.
"""

from __future__ import annotations

import copy
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promptship.core.errors import Location
from promptship.core.model import YamlDoc
from promptship.core.overlay import DELETE, Layer, Resolved, apply, base, leaf_paths
from promptship.registry import yamlio

KEYS = st.sampled_from(["a", "b", "c", "model", "text", "x-ext", "1", "null", "true", "id"])
SCALARS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(
        alphabet=string.ascii_letters + string.digits + " :#-'\"{}[],&*!|>%@`\n\t", max_size=12
    ),
)
MESSAGE_IDS = st.sampled_from(["system", "user", "m1", "m2"])
# A fresh {$patch: delete} each time: a shared object would be dumped as an anchor.
DELETES = st.builds(lambda: dict(DELETE))


def _keyed(children: st.SearchStrategy[Any], deletes: bool) -> st.SearchStrategy[list[Any]]:
    """Lists of items with unique ids (messages): merged by id, not replaced."""
    item = st.fixed_dictionaries(
        {"id": MESSAGE_IDS}, optional={"role": SCALARS, "content": children}
    )
    if deletes:
        item = item | st.builds(lambda i: {"id": i, **DELETE}, MESSAGE_IDS)
    return st.lists(item, max_size=3, unique_by=lambda d: d["id"])


# Recursive values through st.deferred (short reprs in hypothesis's reports).
# PLAIN: what a prompt holds; PATCH: what an overlay holds, deletions included.
PLAIN: st.SearchStrategy[Any] = st.deferred(
    lambda: st.one_of(
        SCALARS,
        st.lists(PLAIN, max_size=3),
        st.dictionaries(KEYS, PLAIN, max_size=3),
        _keyed(PLAIN, deletes=False),
    )
)
PATCH: st.SearchStrategy[Any] = st.deferred(
    lambda: st.one_of(
        SCALARS,
        st.lists(PLAIN, max_size=3),
        st.dictionaries(KEYS, PATCH | DELETES, max_size=3),
        _keyed(PATCH, deletes=True),
    )
)
DOCS = st.dictionaries(KEYS, PLAIN, max_size=5)
OVERLAYS = st.dictionaries(KEYS, PATCH | DELETES, max_size=5)


def _source(data: dict[str, Any], name: str) -> tuple[YamlDoc, str]:
    text = yamlio.roundtrip_dump(data)
    doc = yamlio.load(text.encode(), name)
    assert doc.data == data, text  # the loader reads back what the dumper wrote
    return doc, text


def _resolved(data: dict[str, Any]) -> tuple[Resolved, str]:
    doc, text = _source(data, "base.yaml")
    return base(doc.data, doc.location, doc.path, track=True), text


def _layer(data: dict[str, Any], name: str) -> tuple[Layer, str]:
    doc, text = _source(data, name)
    return Layer(name, doc.data, doc.location), text


@settings(max_examples=150, deadline=None)
@given(DOCS)
def test_empty_overlay_is_the_identity(data: dict[str, Any]) -> None:
    start, _ = _resolved(data)
    for track in (True, False):
        probe = start if track else Resolved(start.data)
        out, findings = apply(probe, Layer("empty", {}, lambda p: Location("x")))
        assert findings == []
        assert out.data == probe.data
        assert out.origins == probe.origins
        assert out.deleted == probe.deleted


@settings(max_examples=150, deadline=None)
@given(DOCS, OVERLAYS)
def test_merge_is_deterministic_and_pure(data: dict[str, Any], over: dict[str, Any]) -> None:
    start, _ = _resolved(data)
    layer, _ = _layer(over, "over.yaml")
    before = (copy.deepcopy(start.data), dict(start.origins or {}), copy.deepcopy(over))
    first = apply(start, layer)
    second = apply(start, layer)
    assert first == second
    assert (start.data, start.origins, over) == before  # inputs never change
    untracked, findings = apply(Resolved(copy.deepcopy(data)), layer)
    assert untracked.data == first[0].data
    assert findings == first[1]


@settings(max_examples=200, deadline=None)
@given(DOCS, OVERLAYS, OVERLAYS)
def test_every_leaf_has_an_origin_on_a_real_line(
    data: dict[str, Any], over1: dict[str, Any], over2: dict[str, Any]
) -> None:
    resolved, base_text = _resolved(data)
    texts = {"base.yaml": base_text}
    for name, over in (("one.yaml", over1), ("two.yaml", over2)):
        layer, texts[name] = _layer(over, name)
        resolved, _findings = apply(resolved, layer)
    origins = resolved.origins or {}
    leaves = set(leaf_paths(resolved.data))
    assert leaves == set(origins), leaves ^ set(origins)
    for path, origin in origins.items():
        lines = texts[origin.location.file].splitlines()
        assert 1 <= origin.location.line <= len(lines), (path, origin)
        assert origin.layer == origin.location.file
        assert origin.op in {"set", "replaced", "merged", "appended"}
    for _path, origin in resolved.deleted:
        assert origin.op == "deleted"
        assert "$patch" in texts[origin.location.file].splitlines()[origin.location.line - 1] or (
            texts[origin.location.file]
            .splitlines()[origin.location.line - 1]
            .lstrip()
            .startswith("- ")
        )
