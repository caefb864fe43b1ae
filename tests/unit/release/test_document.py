"""The bundle's documents: what the writer writes, the strict reader reads back; nothing else."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import evalregistry
from promptship.core.errors import BundleError
from promptship.release.build import bundle_files
from promptship.release.document import (
    BUNDLE_ENV_SCHEMA,
    prompt_id_of,
    prompt_ids,
    prompt_member,
    read_bundle_documents,
    read_environment_document,
    read_prompt_document,
)

COMMIT = "c" * 40


@pytest.fixture(scope="module")
def written() -> dict[str, bytes]:
    """The files of a real bundle of the eval registry (staging, release 3)."""
    return bundle_files(evalregistry.load(), "staging", 3, COMMIT)


def _greet(written: dict[str, bytes]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(written[prompt_member("demo/greet")])
    return doc


def test_every_document_the_writer_writes_reads_back_the_same(written: dict[str, bytes]) -> None:
    assert prompt_ids(written) == ["demo/classify", "demo/greet", "demo/judge"]
    for pid in prompt_ids(written):
        doc = read_prompt_document(written[prompt_member(pid)], prompt_id=pid, env="staging")
        assert doc.to_dict() == json.loads(written[prompt_member(pid)])
    env = read_environment_document(written, env="staging", release=3)
    assert (env.environment, env.release, env.source_commit) == ("staging", 3, COMMIT)
    assert env.policy == {"min_pass_rate": 0.5}
    assert env.experiments == ()
    both = read_bundle_documents(written, env="staging", release=3)
    assert [d.id for d in both.prompts] == ["demo/classify", "demo/greet", "demo/judge"]


def test_member_names() -> None:
    assert prompt_member("a/b") == "prompts/a/b.json"
    assert prompt_id_of("prompts/a/b.json") == "a/b"
    assert prompt_id_of("environment.json") is None
    assert prompt_id_of("prompts/a/b.txt") is None


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(key: str) -> Any:
    return lambda doc: doc.pop(key)


PROMPT_CASES = {
    "missing version": (_drop("version"), "version: required field missing"),
    "missing view": (_drop("view"), "view: required field missing"),
    "unknown field": (_set(("extra",), 1), "extra: unknown field"),
    "version of the wrong type": (_set(("version",), 100), "version: must be a MAJOR.MINOR"),
    "version not semver": (
        _set(("version",), "one"),
        'version: must be a MAJOR.MINOR.PATCH version, not "one"',
    ),
    "wrong schema": (
        _set(("schema",), "other/v9"),
        "schema: must be 'promptship.bundle-prompt/v1'",
    ),
    "another prompt's id": (_set(("id",), "demo/judge"), "id: must be the file's prompt id"),
    "another environment": (_set(("env",), "production"), "env: must be the bundle's environment"),
    "digest of the wrong form": (
        _set(("content_digest",), "md5:00"),
        "content_digest: must be a sha256",
    ),
    "view not an object": (_set(("view",), ["text"]), "view: must be an object, not list"),
    "view without a model": (lambda d: d["view"].pop("model"), "view.model: must be an object"),
    "model name not text": (
        _set(("view", "model", "name"), 7),
        "view.model.name: must be a non-empty",
    ),
    "inputs not an object": (_set(("view", "inputs"), "x"), "view.inputs: must be an object"),
    "input property not an object": (
        _set(("view", "inputs", "properties", "name"), True),
        "view.inputs.properties.name: must be an object",
    ),
    "required inputs not a list": (
        _set(("view", "inputs", "required"), "name"),
        "view.inputs.required: must be a list of input names",
    ),
    "text and messages": (_set(("view", "text"), "Hi"), "view: must have either text or messages"),
    "no messages": (_set(("view", "messages"), []), "view.messages: must be a non-empty list"),
    "empty message": (
        _set(("view", "messages", 1, "content"), ""),
        "view.messages[1].content: must be a non-empty string",
    ),
    "variants not an object": (_set(("variants",), []), "variants: must be an object"),
    "a variant not an object": (
        _set(("variants", "loud"), "x"),
        "variants.loud: must be an object",
    ),
    "a variant without a model": (
        lambda d: d["variants"]["loud"].pop("model"),
        "variants.loud.model: must be an object",
    ),
    "a fragment not text": (_set(("fragments",), {"x": 1}), "fragments.x: must be a string, not 1"),
    "a huge digest": (
        _set(("content_digest",), "sha256:" + "f" * 1_000_000),
        'content_digest: must be a sha256:<64 hex> digest, not "sha256:ffff',
    ),
}


@pytest.mark.parametrize("case", PROMPT_CASES, ids=list(PROMPT_CASES))
def test_a_hostile_prompt_document_is_a_bundle_error_naming_the_file(
    written: dict[str, bytes], case: str
) -> None:
    change, needle = PROMPT_CASES[case]
    doc = copy.deepcopy(_greet(written))
    change(doc)
    with pytest.raises(BundleError) as raised:
        read_prompt_document(json.dumps(doc).encode(), prompt_id="demo/greet", env="staging")
    message = raised.value.message
    assert message.startswith(
        "bundle file prompts/demo/greet.json is not a promptship.bundle-prompt/v1 document: "
    ), message
    assert needle in message
    assert len(message) < 300  # a huge value is shown cut short


RAW_CASES = {
    "not JSON": (b"{", "is not JSON"),
    "not UTF-8": (b'{"id": "\xff"}', "is not JSON"),
    "not an object": (b"[1]", "is not a JSON object"),
    "NaN": (b'{"x": NaN}', "NaN is not JSON"),
    "nested too deep": (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "is not JSON"),
    # parses in Python's json (under its ~1,000 levels), then broke a recursive walk later
    "nested 985 deep": (b'{"x": ' + b"[" * 985 + b"]" * 985 + b"}", "nesting deeper than 128"),
    "a huge number": (b'{"x": ' + b"9" * 10_000 + b"}", "is not JSON"),
}


@pytest.mark.parametrize("case", RAW_CASES, ids=list(RAW_CASES))
def test_unreadable_json_is_a_bundle_error_naming_the_file(case: str) -> None:
    data, needle = RAW_CASES[case]
    with pytest.raises(BundleError) as raised:
        read_prompt_document(data, prompt_id="demo/greet", env="staging")
    assert raised.value.message.startswith("bundle file prompts/demo/greet.json ")
    assert needle in raised.value.message


def _environment(**changes: Any) -> dict[str, bytes]:
    doc: dict[str, Any] = {
        "schema": BUNDLE_ENV_SCHEMA,
        "environment": "production",
        "release": 4,
        "source_commit": COMMIT,
        "policy": {"min_pass_rate": 0.9},
        "experiments": [
            {
                "id": "tone",
                "prompt": "demo/greet",
                "unit": "user_id",
                "split": {"base": 50, "short": 50},
            }
        ],
        "promotes_from": "staging",
    }
    for key, value in changes.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return {"environment.json": json.dumps(doc).encode()}


def test_a_sound_environment_document() -> None:
    env = read_environment_document(_environment(), env="production", release=4)
    assert env.promotes_from == "staging"
    (experiment,) = env.experiments
    assert (experiment.id, experiment.prompt, experiment.unit) == ("tone", "demo/greet", "user_id")
    assert experiment.split == {"base": 50, "short": 50}


ENV_CASES = {
    "missing policy": ({"policy": None}, "policy: required field missing"),
    "unknown field": ({"defaults": {}}, "defaults: unknown field"),
    "policy not an object": ({"policy": [1]}, "policy: must be an object"),
    "another environment": ({"environment": "staging"}, "environment: must be the bundle's"),
    "another release": ({"release": 5}, "release: must be the bundle's 4, not 5"),
    "a huge release": ({"release": 2**64}, "release: must be an integer >= 0"),
    "release a bool": ({"release": True}, "release: must be an integer >= 0, not true"),
    "experiments not a list": ({"experiments": {}}, "experiments: must be a list"),
    "experiment without a unit": (
        {"experiments": [{"id": "t", "prompt": "demo/greet", "split": {"base": 100}}]},
        "experiments[0].unit: required field missing",
    ),
    "experiment split not numbers": (
        {
            "experiments": [
                {"id": "t", "prompt": "demo/greet", "unit": "u", "split": {"base": "all"}}
            ]
        },
        "experiments[0].split.base: must be an integer >= 0",
    ),
    "commit of the wrong form": ({"source_commit": "HEAD"}, "source_commit: must be 40 hex digits"),
}


@pytest.mark.parametrize("case", ENV_CASES, ids=list(ENV_CASES))
def test_a_hostile_environment_document_is_a_bundle_error_naming_the_file(case: str) -> None:
    changes, needle = ENV_CASES[case]
    with pytest.raises(BundleError) as raised:
        read_environment_document(_environment(**changes), env="production", release=4)
    message = raised.value.message
    assert message.startswith(
        "bundle file environment.json is not a promptship.bundle-environment/v1 document: "
    ), message
    assert needle in message


def test_a_bundle_without_an_environment_document() -> None:
    with pytest.raises(BundleError, match=r"^bundle has no environment\.json"):
        read_environment_document({}, env="production", release=4)
