"""A signed bundle whose documents are not what promptship writes: every consumer says so cleanly.

A signature proves who built a bundle, not that its documents are sound. Each
bundle here is built from the eval registry's real files, one document is made
hostile (a missing field, a wrong type, an unknown field, nesting too deep to
parse, a huge value), and the bundle is signed with the real key path. The
client, ``eval --bundle``, ``bundle inspect`` and ``bundle diff`` must each
refuse it with a ``BundleError`` (exit 1) that names the bad file: never an
internal error (exit 3), never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import evalregistry
from promptship.client import PromptClient
from promptship.core.errors import BundleError
from promptship.release.build import bundle_files
from promptship.release.bundle import build_bundle
from promptship.release.sshsig import BUNDLE_NAMESPACE, principal_for, sign
from signkeys import KeyPair, make_keypair

from .conftest import Cli

GREET = "prompts/demo/greet.json"
ENVIRONMENT = "environment.json"
Change = Callable[[bytes], bytes]


def _edit(change: Callable[[dict[str, Any]], object]) -> Change:
    def apply(data: bytes) -> bytes:
        doc = json.loads(data)
        change(doc)
        return json.dumps(doc).encode()

    return apply


def _deeply_nested(data: bytes) -> bytes:
    depth = 50_000
    return data.replace(
        b'{"content_digest"', b'{"deep":' + b"[" * depth + b"]" * depth + b',"content_digest"', 1
    )


def _huge_number(data: bytes) -> bytes:
    return data.replace(b'{"content_digest"', b'{"huge":' + b"7" * 20_000 + b',"content_digest"', 1)


CASES: dict[str, tuple[str, Change, str]] = {
    "prompt without a version": (
        GREET,
        _edit(lambda d: d.pop("version")),
        "version: required field missing",
    ),
    "prompt version of the wrong type": (
        GREET,
        _edit(lambda d: d.update(version=[1, 0, 0])),
        "version: must be a MAJOR.MINOR.PATCH version, not list",
    ),
    "prompt view of the wrong type": (
        GREET,
        _edit(lambda d: d.update(view="Say hello")),
        'view: must be an object, not "Say hello"',
    ),
    "prompt with an unknown field": (
        GREET,
        _edit(lambda d: d.update(note="hi")),
        "note: unknown field",
    ),
    "prompt nested too deep": (GREET, _deeply_nested, "is not JSON"),
    "prompt with a huge number": (GREET, _huge_number, "is not JSON"),
    "prompt with a huge digest": (
        GREET,
        _edit(lambda d: d.update(content_digest="sha256:" + "a" * 5_000_000)),
        "content_digest: must be a sha256:<64 hex> digest",
    ),
    "environment without a policy": (
        ENVIRONMENT,
        _edit(lambda d: d.pop("policy")),
        "policy: required field missing",
    ),
    "environment with a huge release": (
        ENVIRONMENT,
        _edit(lambda d: d.update(release=10**40)),
        "release: must be an integer >= 0",
    ),
    "environment with an unknown field": (
        ENVIRONMENT,
        _edit(lambda d: d.update(defaults={})),
        "defaults: unknown field",
    ),
}


class Bundles:
    """A good signed bundle of the eval registry, and a way to make hostile ones."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.key: KeyPair = make_keypair("staging")
        self.signers = tmp / "allowed_signers"
        self.signers.write_text(f"{principal_for('staging')} {self.key.public}\n")
        self.root = evalregistry.write(tmp / "registry")
        self.files = bundle_files(evalregistry.load(), "staging", 1, "c" * 40)
        self.good = self.write("good", self.files)

    def write(self, name: str, files: dict[str, bytes]) -> Path:
        created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        bundle = build_bundle(
            files,
            environment="staging",
            release=1,
            source_commit="c" * 40,
            created=created,
            expires=created + timedelta(days=30),
        )
        tar = self.tmp / f"{name}.tar"
        tar.write_bytes(bundle.tar)
        (self.tmp / f"{name}.tar.sig").write_text(
            sign(self.key.key, bundle.manifest, BUNDLE_NAMESPACE)
        )
        return tar

    def hostile(self, member: str, change: Change) -> Path:
        return self.write("hostile", {**self.files, member: change(self.files[member])})


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return Bundles(tmp_path_factory.mktemp("hostile"))


def _clean_refusal(err: str, member: str, needle: str) -> None:
    assert err.startswith("error: "), err
    assert f"bundle file {member}" in err, err
    assert needle in err, err
    assert "internal error" not in err
    assert "Traceback" not in err


def _serve_greet(made: Bundles, tar: Path) -> None:
    with PromptClient.from_bundle(tar, env="staging", allowed_signers=made.signers) as client:
        client.get("demo/greet")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_consumer_refuses_a_hostile_document_naming_it(
    made: Bundles, cli: Cli, case: str
) -> None:
    member, change, needle = CASES[case]
    tar = made.hostile(member, change)

    # the client: at start for environment.json, when the prompt is first asked for otherwise
    with pytest.raises(BundleError) as raised:
        _serve_greet(made, tar)
    assert f"bundle file {member}" in str(raised.value)
    assert needle in str(raised.value)

    evaluated = cli("eval", "--root", made.root, "--bundle", tar)
    assert evaluated.exit == 1, evaluated.err
    _clean_refusal(evaluated.err, member, needle)

    for args in (("inspect", tar), ("inspect", tar, "--format", "json"), ("diff", made.good, tar)):
        result = cli("bundle", *args)
        assert (result.exit, result.out) == (1, ""), result.err
        _clean_refusal(result.err, member, needle)


def test_the_good_bundle_is_served_evaluated_inspected_and_compared(
    made: Bundles, cli: Cli
) -> None:
    """The control: the same bundle, untouched, passes every consumer."""
    with PromptClient.from_bundle(made.good, env="staging", allowed_signers=made.signers) as client:
        assert client.get("demo/greet").render(name="Ada").messages
    assert cli("eval", "--root", made.root, "--bundle", made.good).exit == 0
    assert cli("bundle", "inspect", made.good).exit == 0
    assert cli("bundle", "diff", made.good, made.good).exit == 0
