"""A registry in a real git repository, published to a store by the real CLI.

``Publisher(tmp_path)`` writes a small registry (a complex chat prompt with an
include, a loop and a conditional; a substitution-only prompt; a prompt with
variants in an experiment), generates a signing key with ``promptship keys
generate`` and publishes with ``promptship publish``. Each :meth:`publish`
first commits a new release marker into ``support/reply``'s system message, so
every release renders differently and a test can tell which bundle served a
render from the rendered text alone.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gitrepo import commit, make_repo
from promptship.cli import main

__all__ = ["Published", "Publisher", "marker_of"]

CODEOWNERS = "* @acme/platform\n/registry/support/ @acme/support\n/registry/growth/ @acme/growth\n"

FRAGMENT = """\
id: tone
description: House tone.
owner: "@acme/platform"
text: "Be kind to {{ customer_name }}."
"""

REPLY = """\
id: support/reply
version: 1.0.0
description: Reply to a support ticket.
metadata:
  owner: "@acme/support"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.2
inputs:
  type: object
  properties:
    customer_name: {{type: string}}
    ticket: {{type: string, x-sensitive: true}}
    history:
      type: array
      items: {{type: string}}
  required: [customer_name, ticket]
  additionalProperties: false
messages:
  - id: system
    role: system
    content: |
      Release marker: {marker}.
      {{% include "tone" %}}
  - id: user
    role: user
    content: |
      {{{{ ticket }}}}
      {{% if history is defined %}}{{% for turn in history %}}- {{{{ turn }}}}
      {{% endfor %}}{{% endif %}}
"""

SIMPLE = """\
id: support/simple
version: 1.0.0
description: Substitution only.
metadata:
  owner: "@acme/support"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
inputs:
  type: object
  properties:
    question: {type: string}
    customer_name: {type: string}
  required: [question, customer_name]
  additionalProperties: false
messages:
  - id: user
    role: user
    content: "Answer {{ question }} for {{ customer_name }}."
"""

WELCOME = """\
id: growth/welcome
version: 1.0.0
description: Welcome email.
metadata:
  owner: "@acme/growth"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
  parameters:
    temperature: 0.7
inputs:
  type: object
  properties:
    first_name: {type: string}
  required: [first_name]
  additionalProperties: false
messages:
  - id: user
    role: user
    content: Write the welcome email for {{ first_name }}.
variants:
  warm:
    messages:
      - id: user
        content: Write a warm welcome email for {{ first_name }}.
  short:
    messages:
      - id: user
        content: Write a two-line welcome email for {{ first_name }}.
"""

ENV = """\
environment: {env}
policy:
  bundle_expiry_days: 30
  channel_expiry_days: {channel_days}
experiments:
  - id: welcome-tone
    prompt: growth/welcome
    unit: user_id
    split:
      base: 50
      warm: 30
      short: 20
"""

SPLIT = {"base": 50, "warm": 30, "short": 20}


def marker_of(text: str) -> str:
    """The release marker in a rendered ``support/reply`` system message."""
    return text.split("Release marker: ", 1)[1].split(".", 1)[0]


@dataclass(frozen=True)
class Published:
    """What one ``promptship publish`` reported."""

    env: str
    seq: int
    release: int
    digest: str
    expires: datetime
    marker: str

    @property
    def tar(self) -> str:
        """The bundle's path relative to the store root."""
        return f"bundles/sha256/{self.digest.removeprefix('sha256:')}.tar"

    @property
    def sig(self) -> str:
        """Its signature's path relative to the store root."""
        return self.tar + ".sig"


class Publisher:
    """A registry repository, a signing key, and a store directory, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store"
        self.repo = make_repo(root, "registry")
        self.workdir = root / "registry"
        self.key = root / "keys" / "release"
        self.signers = root / "keys" / "allowed_signers"
        self.outsider_key = root / "keys" / "outsider"
        self.count = 0
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self.key.parent.mkdir()
        line = self.cli(
            "keys", "generate", "-o", self.key, "--env", "staging", "--env", "production"
        )
        self.signers.write_text(line)
        self.cli("keys", "generate", "-o", self.outsider_key, "--env", "production")
        self._commit("marker-0", "initial registry", full=True)
        self.published: list[Published] = []

    def cli(self, *args: str | Path) -> str:
        """Run ``promptship ARGS`` in-process; return stdout (raises on a non-zero exit)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
        if code != 0:
            raise AssertionError(f"promptship {args} exited {code}: {err.getvalue()}")
        return out.getvalue()

    def _commit(
        self, marker: str, message: str, *, full: bool = False, channel_days: int | None = None
    ) -> str:
        files: dict[str, str | None] = {"registry/support/reply.yaml": REPLY.format(marker=marker)}
        if full:
            files |= {
                "CODEOWNERS": CODEOWNERS,
                "registry/_fragments/tone.yaml": FRAGMENT,
                "registry/support/simple.yaml": SIMPLE,
                "registry/growth/welcome.yaml": WELCOME,
            }
        if full or channel_days is not None:
            for env in ("production", "staging"):
                files[f"environments/{env}.yaml"] = ENV.format(
                    env=env, channel_days=channel_days or 7
                )
        self.count += 1
        # Commit times are recent: a bundle expires bundle_expiry_days after its commit.
        when = self.start + timedelta(seconds=self.count)
        return commit(self.repo, files, message, when=when)

    def publish(
        self, env: str = "production", marker: str | None = None, *, channel_days: int | None = None
    ) -> Published:
        """Commit a new marker and publish ``env``; ``channel_days`` changes the channel expiry policy (7 at first)."""
        marker = marker or f"r{self.count}"
        self._commit(marker, f"release {marker}", channel_days=channel_days)
        out = self.cli(
            "publish", "--env", env, "--store", self.store, "--key", self.key,
            "--allowed-signers", self.signers, "--root", self.workdir, "--format", "json",
        )  # fmt: skip
        info: dict[str, Any] = json.loads(out)
        published = Published(
            env,
            info["seq"],
            info["release"],
            info["bundle_digest"],
            datetime.fromisoformat(info["expires"].replace("Z", "+00:00")),
            marker,
        )
        self.published.append(published)
        return published

    def channel_bytes(self, env: str = "production") -> bytes:
        """The channel file as it is now."""
        return (self.store / "channels" / f"{env}.json").read_bytes()

    def build_signed(self, env: str, out: Path) -> Path:
        """``promptship bundle build --sign`` of the current commit into ``out``; the tar's path."""
        self.cli(
            "bundle", "build", "--env", env, "-o", out, "--sign", "--key", self.key,
            "--root", self.workdir,
        )  # fmt: skip
        return out / f"{env}.tar"
