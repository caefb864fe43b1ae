"""``promptship channel``: inspect published channels."""

from __future__ import annotations

from pathlib import Path

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.cli._release import allowed_signers, now, signers_option, store_options
from promptship.release.manifest import format_time
from promptship.release.store import open_store, read_channel


@cli.group("channel")
def channel_group() -> None:
    """Inspect published channels."""


@channel_group.command("show")
@click.argument("env")
@store_options
@signers_option
@root_option
@format_option("text", "json")
def channel_show(
    env: str,
    store_url: str,
    plain_http: bool,
    signers: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Show ENV's verified channel pointer in a store (a folder or oci://HOST/REPO)."""
    store = open_store(store_url, plain_http=plain_http)
    channel = read_channel(store, env, allowed_signers(signers, root), now=now())
    p = channel.pointer
    info = {
        "env": p.env,
        "seq": p.seq,
        "release": p.release,
        "bundle_digest": p.bundle_digest,
        "published": format_time(p.published),
        "expires": format_time(p.expires),
        "signer": channel.signer.principal,
    }
    if fmt == "json":
        echo_json(info)
    else:
        echo("\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0
