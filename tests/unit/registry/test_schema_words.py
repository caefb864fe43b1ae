"""Schema findings in the author's words: types, patterns, enums, misspelled and repeated fields."""

from __future__ import annotations

import pytest

import evalregistry
from promptship import registry
from promptship.core.model import Finding, MemorySnapshot

GREET = "registry/demo/greet.yaml"
OVERLAY = "environments/production/demo/greet.yaml"


def _errors(changes: dict[str, str | None]) -> list[Finding]:
    snap = MemorySnapshot.from_texts(evalregistry.files(changes))
    _, findings = registry.validate(snap)
    return [f for f in findings if f.severity == "error"]


def _greet(old: str, new: str) -> dict[str, str | None]:
    text = evalregistry.files({})[GREET]
    assert old in text
    return {GREET: text.replace(old, new, 1)}


@pytest.mark.parametrize(
    ("old", "new", "message", "hint"),
    [
        ("version: 1.0.0", "version: 0.1", "/version: expected text, found the number 0.1",
         "a version is text MAJOR.MINOR.PATCH: write version: 0.1.0"),
        ("version: 1.0.0", "version: v1.2", '/version: "v1.2" is not a semantic version '
         "MAJOR.MINOR.PATCH such as 1.0.0", "write version: 1.2.0"),
        ("status: active", "status: actve",
         '/metadata/status: the text "actve" is not one of draft, active, deprecated',
         "did you mean 'active'? write status: active"),
        ('owner: "@acme/team"', "owner: acme/team",
         '/metadata/owner: "acme/team" is not a GitHub owner: @user, @org/team or an email address',
         'write owner: "@acme/team"'),
        ("temperature: 0.5", 'temperature: "0.5"',
         '/model/parameters/temperature: expected a number, found the text "0.5"',
         "remove the quotes: temperature: 0.5"),
    ],
)  # fmt: skip
def test_values_are_told_in_words(old: str, new: str, message: str, hint: str) -> None:
    (f,) = [f for f in _errors(_greet(old, new)) if f.code == "schema"]
    assert (f.message, f.hint) == (message, hint)


def test_a_misspelled_field_is_one_finding_with_the_name_to_write() -> None:
    (f,) = _errors(_greet("description:", "descripton:"))
    assert f.code == "schema.unknown-field"
    assert f.message == "unknown field 'descripton' in prompt: did you mean 'description'?"
    assert f.hint == "rename it to 'description'"
    assert f.location is not None
    assert (f.location.line, f.location.col) == (3, 1)


def test_an_overlay_typo_is_reported_once_by_the_overlay() -> None:
    (f,) = _errors({OVERLAY: "model:\n  nmae: other-model\n"})
    assert f.message == "unknown field 'nmae' in overlay: did you mean 'name'?"
    assert f.location is not None
    assert (f.location.file, f.location.line) == (OVERLAY, 2)


def test_an_overlay_message_id_typo_is_told_as_a_typo() -> None:
    (f,) = _errors({OVERLAY: "messages:\n  - id: sytem\n    content: Be brief.\n"})
    assert f.code == "overlay.message-id"
    assert (
        f.message == "message id 'sytem' matches no message of demo/greet: did you mean 'system'?"
    )
    assert f.hint is not None
    assert f.hint.startswith("write id: system to change that message")
    assert f.location is not None
    assert (f.location.file, f.location.line) == (OVERLAY, 2)


def test_an_overlay_for_a_misspelled_prompt_names_the_file_to_rename() -> None:
    path = "environments/production/demo/gret.yaml"
    (f,) = _errors({path: "model:\n  name: other-model\n"})
    assert f.message == "overlay for unknown prompt 'demo/gret': did you mean 'demo/greet'?"
    assert f.hint == "rename this file to environments/production/demo/greet.yaml"


def test_a_prompt_that_does_not_load_is_one_finding_not_a_cascade() -> None:
    found = _errors(
        {
            GREET: evalregistry.files({})[GREET].replace("version: 1.0.0", "version: [1.0.0"),
            OVERLAY: "model:\n  name: other-model\n",
        }
    )
    assert [(f.code, f.location.file if f.location else None) for f in found] == [("yaml", GREET)]
