"""``promptship publish``: build, sign and publish a bundle, then move the channel."""

from __future__ import annotations

import json
from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, format_option, root_option
from promptship.cli._release import (
    allowed_signers,
    key_options,
    now,
    signers_option,
    signing_key,
    store_options,
)
from promptship.git import open_repository
from promptship.release.manifest import format_time
from promptship.release.publish import publish_release
from promptship.release.store import open_store


@cli.command()
@click.option("--env", required=True, help="Environment to publish.")
@store_options
@click.option("--ref", default="HEAD", show_default=True, help="Commit to build.")
@key_options
@signers_option
@root_option
@format_option("text", "json")
def publish(
    env: str,
    store_url: str,
    plain_http: bool,
    ref: str,
    key_file: Path | None,
    key_env: str,
    signers: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Build, sign and publish ENV's bundle, then move ENV's channel to it.

    Writes bundles/sha256/<hex>.tar and .sig once, then channels/ENV.json (a
    signed pointer whose seq rises by one) atomically: a failure at any step
    leaves the previous channel valid. With --store oci://HOST/REPO it pushes
    the bundle as the artifact tagged sha256-<hex>, then the channel as
    channel-ENV.

    \b
    Examples:
      promptship publish --env staging --store store --key staging.key
      promptship publish --env production --store oci://ghcr.io/acme/prompts   # needs a network
    """
    store = open_store(store_url, plain_http=plain_http)
    repo = open_repository(root or Path.cwd())
    key = signing_key(key_file, key_env)
    published = publish_release(
        repo, env, store, key=key, allowed=allowed_signers(signers, root), now=now(), ref=ref
    )
    p = published.channel.pointer
    if fmt == "json":
        echo(
            json.dumps(
                {
                    "env": env,
                    "seq": p.seq,
                    "release": p.release,
                    "bundle_digest": p.bundle_digest,
                    "expires": format_time(p.expires),
                },
                indent=2,
            )
        )
    else:
        echo(
            f"published {env} release {p.release} ({p.bundle_digest}) as seq {p.seq}, channel expires {format_time(p.expires)}"
        )
    return 0
