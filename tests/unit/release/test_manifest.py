"""Manifests and channel pointers: canonical bytes, strict parsing, agreement with the schemas."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from promptship.core.errors import BundleError, ChannelError
from promptship.release import canonical
from promptship.release import manifest as m

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
CREATED = datetime(2025, 5, 1, 9, 30, 15, tzinfo=UTC)
EXPIRES = CREATED + timedelta(days=90)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "prompts/support/triage.json": b'{"id":"support/triage"}',
    "index.json": b"{}",
    "prompts/billing/refund.json": b'{"id":"billing/refund"}',
}


def _build(**over: Any) -> m.Manifest:
    args: dict[str, Any] = {
        "environment": "production",
        "release": 7,
        "source_commit": COMMIT,
        "created": CREATED,
        "expires": EXPIRES,
    }
    args.update(over)
    files = args.pop("files", FILES)
    return m.build_manifest(files, **args)


def _doc() -> dict[str, Any]:
    return _build(evals="sha256:" + "ab" * 32).to_dict()


def _pointer_doc() -> dict[str, Any]:
    return {
        "schema": "promptship.channel/v1",
        "env": "production",
        "seq": 3,
        "release": 7,
        "bundle_digest": "sha256:" + "cd" * 32,
        "published": "2025-05-02T10:00:00Z",
        "expires": "2025-05-09T10:00:00Z",
    }


def _schema(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://promptship.dev/schemas/{name}.schema.json"
    return Draft202012Validator(schema)


# --- building ----------------------------------------------------------------------


def test_build_encode_parse_round_trip() -> None:
    built = _build()
    data = m.encode_manifest(built)
    assert m.parse_manifest(data) == built
    assert data == rfc8785.dumps(json.loads(data))
    assert [f.path for f in built.files] == sorted(FILES)
    assert "evals" not in json.loads(data)
    assert m.manifest_digest(data).startswith("sha256:")
    assert len(m.manifest_digest(data)) == 7 + 64


def test_same_values_same_bytes_regardless_of_order_and_time_zone() -> None:
    reordered = dict(reversed(list(FILES.items())))
    cest = timezone(timedelta(hours=2))
    a = m.encode_manifest(_build())
    b = m.encode_manifest(
        _build(
            files=reordered,
            created=CREATED.astimezone(cest) + timedelta(microseconds=999),
            expires=EXPIRES.astimezone(cest),
        )
    )
    assert a == b
    assert b'"created":"2025-05-01T09:30:15Z"' in a


def test_evals_digest_is_kept() -> None:
    built = _build(evals="sha256:" + "ab" * 32)
    assert m.parse_manifest(m.encode_manifest(built)).evals == "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"environment": "Prod"}, "environment"),
        ({"release": -1}, "release"),
        ({"source_commit": "abc"}, "source_commit"),
        ({"expires": CREATED}, "later than created"),
        ({"evals": "md5:00"}, "evals"),
        ({"files": {"../x": b""}}, "'..' segment"),
        ({"files": {"manifest.json": b""}}, "reserved"),
        ({"files": {"A.json": b"", "a.json": b""}}, "differ only in case"),
        ({"files": {"a": b"", "a/b": b""}}, "inside 'a', a file"),
        ({"created": datetime(2025, 1, 1)}, "no time zone"),
        ({"created": datetime(1969, 1, 1, tzinfo=UTC)}, "1970"),
    ],
)
def test_build_refuses_what_parse_would_refuse(over: dict[str, Any], expected: str) -> None:
    with pytest.raises(BundleError, match=expected):
        _build(**over)


# --- safe paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("prompts/a.json", None),
        ("a" * 100, None),
        ("d" * 155 + "/" + "n" * 99, None),
        ("", "empty path"),
        ("/etc/passwd", "absolute"),
        ("../up", "'..' segment"),
        ("a/../../up", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("a\\b", "backslash"),
        ("caf\u00e9.json", "characters outside"),
        ("a b", "characters outside"),
        ("a\x00b", "characters outside"),
        ("a" * 101, "cannot be split"),
        ("d" * 156 + "/n", "cannot be split"),
        ("a/" * 127 + "bb", "over 255"),
    ],
)
def test_path_problem(path: str, problem: str | None) -> None:
    found = m.path_problem(path)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


# --- strict parsing ----------------------------------------------------------------


def _encoded(doc: Any) -> bytes:
    return rfc8785.dumps(doc)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"a":NaN}', "NaN"),
        (b"[]", "canonical"),
        (b'{"a":1,"a":2}', "key 'a' twice"),
        (b'{"files":[{"path":"x","path":"y"}]}', "key 'path' twice"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    ],
)
def test_parse_rejects_bad_json(data: bytes, expected: str) -> None:
    with pytest.raises(BundleError, match=expected):
        m.parse_manifest(data)


def test_parse_rejects_non_canonical_encodings() -> None:
    good = m.encode_manifest(_build())
    doc = json.loads(good)
    variants = [
        json.dumps(doc).encode(),  # spaces
        json.dumps(dict(reversed(doc.items())), separators=(",", ":")).encode(),  # key order
        good + b"\n",
        good.replace(b'"production"', b'"\\u0070roduction"'),
        good.replace(b'"release":7', b'"release":7.0'),
        b" " + good,
    ]
    for data in variants:
        assert data != good
        with pytest.raises(BundleError, match="not in RFC 8785 canonical form"):
            m.parse_manifest(data)


def test_parse_rejects_oversize_before_reading() -> None:
    data = m.encode_manifest(_build())
    with pytest.raises(BundleError, match="over the cap"):
        m.parse_manifest(data, max_bytes=len(data) - 1)
    assert m.parse_manifest(data, max_bytes=len(data))


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


_DELETE = object()

# (mutation, expected message, whether the JSON Schema alone can see it)
MANIFEST_VIOLATIONS: list[tuple[Callable[[dict[str, Any]], None], str, bool]] = [
    (_set(("schema",), "promptship.manifest/v2"), "schema: must be", True),
    (_set(("environment",), _DELETE), "environment: required", True),
    (_set(("extra",), 1), "extra: unknown field", True),
    (_set(("environment",), "Production"), "environment", True),
    (_set(("environment",), 3), "environment", True),
    (_set(("release",), -1), "release", True),
    (_set(("release",), True), "release", True),
    (_set(("release",), "7"), "release", True),
    (_set(("release",), 2**53), "canonical form: 9007199254740992", True),
    (_set(("source_commit",), COMMIT.upper()), "source_commit", True),
    (_set(("source_commit",), COMMIT[:39]), "source_commit", True),
    (_set(("created",), "2025-05-01T09:30:15+00:00"), "created", True),
    (_set(("created",), "2025-05-01T09:30:15.5Z"), "created", True),
    (_set(("created",), "2025-05-01"), "created", True),
    (_set(("created",), 1714555815), "created", True),
    (_set(("evals",), None), "evals", True),
    (_set(("evals",), "sha256:" + "AB" * 32), "evals", True),
    (_set(("files",), {}), "files: must be a list", True),
    (_set(("files", 0), "x"), "files[0]: must be an object", True),
    (_set(("files", 0, "mode"), 420), "files[0].mode: unknown field", True),
    (_set(("files", 0, "sha256"), _DELETE), "files[0].sha256: required", True),
    (_set(("files", 0, "path"), "../../etc/passwd"), "files[0].path", True),
    (_set(("files", 0, "path"), "/etc/passwd"), "files[0].path", True),
    (_set(("files", 0, "path"), "a//b"), "files[0].path", True),
    (_set(("files", 0, "path"), "./a"), "files[0].path", True),
    (_set(("files", 0, "path"), "manifest.json"), "files[0].path", True),
    (_set(("files", 0, "path"), 5), "files[0].path", True),
    (_set(("files", 0, "size"), -1), "files[0].size", True),
    (_set(("files", 0, "size"), 1.5), "files[0].size", True),
    (_set(("files", 0, "sha256"), "0" * 63), "files[0].sha256", True),
    # beyond what the schema language expresses: the code is stricter
    (_set(("created",), "2025-02-30T00:00:00Z"), "created", False),
    (_set(("expires",), "2025-05-01T09:30:15Z"), "later than created", False),
    (_set(("files", 0, "path"), "zzz.json"), "not sorted by path", False),
    (_set(("files", 1, "path"), "index.json"), "duplicate path", False),
    (_set(("files", 0, "path"), "Prompts/billing/refund.json"), "differ only in case", False),
    (_set(("files", 0, "path"), "a" * 101), "cannot be split", False),
]


@pytest.mark.parametrize(("mutate", "expected", "in_schema"), MANIFEST_VIOLATIONS)
def test_schema_violations_are_rejected_by_code_and_schema(
    mutate: Callable[[dict[str, Any]], None], expected: str, in_schema: bool
) -> None:
    doc = copy.deepcopy(_doc())
    mutate(doc)
    try:
        data = _encoded(doc)
    except rfc8785.CanonicalizationError:
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(BundleError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        m.parse_manifest(data)
    if in_schema:
        assert not _schema("manifest").is_valid(doc)


def test_valid_documents_pass_code_and_schema() -> None:
    validator = _schema("manifest")
    for doc in (_doc(), _build().to_dict(), _build(files={}).to_dict()):
        assert validator.is_valid(doc), list(validator.iter_errors(doc))
        assert m.parse_manifest(_encoded(doc)).to_dict() == doc


def test_case_clash_and_file_inside_file_are_rejected() -> None:
    for paths, expected in [
        (["A.json", "a.json"], "differ only in case"),
        (["a", "a/b"], "inside 'a'"),
    ]:
        doc = _doc()
        doc["files"] = [{"path": p, "size": 0, "sha256": "0" * 64} for p in paths]
        with pytest.raises(BundleError, match=expected):
            m.parse_manifest(_encoded(doc))


# --- channel pointers ---------------------------------------------------------------


def test_channel_round_trip_and_schema() -> None:
    doc = _pointer_doc()
    pointer = m.parse_channel(_encoded(doc))
    assert pointer.seq == 3
    assert pointer.published == datetime(2025, 5, 2, 10, tzinfo=UTC)
    assert m.encode_channel(pointer) == _encoded(doc)
    assert _schema("channel").is_valid(doc)


@pytest.mark.parametrize(
    ("key", "value", "in_schema"),
    [
        ("schema", "promptship.manifest/v1", True),
        ("env", "PROD", True),
        ("seq", 0, True),
        ("seq", -4, True),
        ("release", "7", True),
        ("bundle_digest", "sha256:" + "cd" * 31, True),
        ("published", "yesterday", True),
        ("extra", True, True),
        ("expires", "2025-05-02T10:00:00Z", False),
    ],
)
def test_channel_violations(key: str, value: Any, in_schema: bool) -> None:
    doc = _pointer_doc()
    doc[key] = value
    with pytest.raises(ChannelError, match=key if key != "extra" else "unknown field"):
        m.parse_channel(_encoded(doc))
    if in_schema:
        assert not _schema("channel").is_valid(doc)


def test_channel_duplicates_non_canonical_and_oversize() -> None:
    good = _encoded(_pointer_doc())
    with pytest.raises(ChannelError, match="twice"):
        m.parse_channel(good[:-1] + b',"seq":4}')
    with pytest.raises(ChannelError, match="canonical"):
        m.parse_channel(json.dumps(_pointer_doc(), indent=1).encode())
    with pytest.raises(ChannelError, match="over the cap"):
        m.parse_channel(good + b" " * 70000)


def test_encode_channel_validates() -> None:
    pointer = m.parse_channel(_encoded(_pointer_doc()))
    bad = m.ChannelPointer(
        "production", 0, 1, pointer.bundle_digest, pointer.published, pointer.expires
    )
    with pytest.raises(ChannelError, match="seq"):
        m.encode_channel(bad)


# --- times ----------------------------------------------------------------------------


def test_time_format_and_parse() -> None:
    assert m.format_time(datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2025-01-02T03:04:05Z"
    assert m.parse_time("2025-01-02T03:04:05Z") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    for bad in ("2025-01-02T03:04:05", "2025-01-02 03:04:05Z", "2025-13-02T03:04:05Z"):
        with pytest.raises(ValueError, match=r"time|month|match"):
            m.parse_time(bad)


# --- properties --------------------------------------------------------------------------

_segment = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,11}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)
_path = st.lists(_segment, min_size=1, max_size=4).map("/".join)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_path, st.binary(max_size=64), max_size=8))
def test_any_buildable_manifest_parses_back(files: dict[str, bytes]) -> None:
    try:
        built = _build(files=files)
    except BundleError:
        return  # case clash, file inside file, or manifest.json: refused at build
    assert m.parse_manifest(m.encode_manifest(built)) == built


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_bundle_error(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        m.parse_manifest(data)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_single_byte_changes_of_a_manifest_never_parse_as_the_same(pos: int, value: int) -> None:
    good = m.encode_manifest(_build())
    i = pos % len(good)
    tampered = good[:i] + bytes([value]) + good[i + 1 :]
    if tampered == good:
        return
    try:
        parsed = m.parse_manifest(tampered)
    except BundleError:
        return
    assert parsed != m.parse_manifest(good)


# The canonical check takes a json.dumps fast path for plain documents (ASCII keys,
# no floats, safe integers); it must accept exactly what rfc8785 accepts.
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _rfc8785_verdict(data: bytes) -> bool:
    try:
        doc = json.loads(data)
        return isinstance(doc, dict) and rfc8785.dumps(doc) == data
    except (ValueError, rfc8785.CanonicalizationError):
        return False


@settings(max_examples=400, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=6), _json_values, max_size=5), sort=st.booleans())
def test_the_canonical_check_agrees_with_rfc8785(doc: dict[str, Any], sort: bool) -> None:
    encodings = [json.dumps(doc, sort_keys=sort, separators=(",", ":"), ensure_ascii=False)]
    with contextlib.suppress(rfc8785.CanonicalizationError):
        encodings.append(rfc8785.dumps(doc).decode("utf-8", "surrogatepass"))
    for text in encodings:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            continue
        checker = canonical.Checker("document", ChannelError)
        try:
            canonical.load_canonical(data, checker, 1 << 20)
            accepted = True
        except ChannelError:
            accepted = False
        assert accepted == _rfc8785_verdict(data), text


ENTRY_VALUES = st.one_of(
    st.text(alphabet="ab.-_/\\Z9ü\x00 ", max_size=12),
    st.sampled_from(["manifest.json", ".hidden", "a/./b", "a" * 101, "a/" * 60 + "b", "A/a"]),
    st.integers(min_value=-2, max_value=2**54),
    st.booleans(),
    st.none(),
    st.sampled_from(["ab" * 32, "AB" * 32, "ab" * 31]),
)


@settings(max_examples=400, deadline=None)
@given(
    path=ENTRY_VALUES,
    size=ENTRY_VALUES,
    digest=ENTRY_VALUES,
    extra=st.dictionaries(st.sampled_from(["x", "path"]), st.just(1), max_size=1),
)
@example(path="prompts/a-b/c_d.json", size=3, digest="ab" * 32, extra={})
@example(path="a/.b", size=0, digest="ab" * 32, extra={})
def test_the_usual_entry_is_accepted_only_when_every_check_would_accept_it(
    path: Any, size: Any, digest: Any, extra: dict[str, Any]
) -> None:
    doc = _doc()
    doc["files"] = [{"path": path, "size": size, "sha256": digest, **extra}]

    def outcome() -> Any:
        try:
            return m._check_manifest(copy.deepcopy(doc), canonical.Checker("manifest", BundleError))
        except BundleError as e:
            return str(e)

    fast = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(m, "_plain_entry", lambda item: False)
        assert fast == outcome()
