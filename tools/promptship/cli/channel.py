"""``promptship channel``: inspect published channels and keep them fresh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.cli._release import (
    allowed_signers,
    key_options,
    now,
    signers_option,
    signing_key,
    store_options,
)
from promptship.core.errors import EXIT_FINDINGS, EXIT_OK
from promptship.release.manifest import format_time
from promptship.release.refresh import DEFAULT_WARN_DAYS, refresh_channel
from promptship.release.store import open_store, read_channel


@cli.group("channel")
def channel_group() -> None:
    """Inspect published channels and keep them fresh."""


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
    """Show ENV's verified channel pointer in a store (a folder or oci://HOST/REPO).

    \b
    Examples:
      promptship channel show staging --store store
      promptship channel show production --store store --format json
      promptship channel show production --store oci://ghcr.io/acme/prompts   # needs a network
    """
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


@channel_group.command("refresh")
@click.argument("env")
@store_options
@click.option(
    "--within",
    type=click.IntRange(min=1),
    metavar="DAYS",
    help="Only refresh when the channel expires within DAYS (default: always).",
)
@click.option(
    "--expiry-days",
    type=click.IntRange(min=1),
    help="The new channel's lifetime (default: the bundle's policy.channel_expiry_days).",
)
@click.option(
    "--warn-days",
    type=click.IntRange(min=0),
    default=DEFAULT_WARN_DAYS,
    show_default=True,
    help="Exit 1 when the bundle itself expires within this many days.",
)
@key_options
@signers_option
@root_option
@format_option("text", "json")
def channel_refresh(
    env: str,
    store_url: str,
    plain_http: bool,
    within: int | None,
    expiry_days: int | None,
    warn_days: int,
    key_file: Path | None,
    key_env: str,
    signers: Path | None,
    root: Path | None,
    fmt: str,
) -> int:
    """Re-sign ENV's channel for the bundle it already serves: next seq, new expiry.

    The bundle is the long-lived release; the channel is a short-lived,
    signed timestamp that clients refuse once it expires. A schedule
    (.github/workflows/refresh.yml) runs this well before expiry. It reads the
    channel even when it has expired, verifies it and its bundle, and
    publishes the same bundle again; nothing changes what is served.

    Exit status: 0 refreshed (or not due), 1 the bundle itself expires within
    --warn-days (the channel was still refreshed as far as the bundle allows:
    promote a newer commit), 2 usage, and 1 when the channel or its bundle does
    not verify or has expired (nothing written).

    \b
    Examples:
      promptship channel refresh production --store store --within 7 --key production.key
      promptship channel refresh staging --store store --key staging.key   # refresh now
      promptship channel refresh staging --store oci://ghcr.io/acme/prompts --key staging.key   # needs a network
    """
    store = open_store(store_url, plain_http=plain_http)
    result = refresh_channel(
        store,
        env,
        key=signing_key(key_file, key_env),
        allowed=allowed_signers(signers, root),
        now=now(),
        within=timedelta(days=within) if within else None,
        expiry_days=expiry_days,
        warn_days=warn_days,
    )
    before, after = result.before, result.channel
    info: dict[str, Any] = {
        "env": env,
        "refreshed": after is not None,
        "seq_before": before.seq,
        "expires_before": format_time(before.expires),
        "seq": after.pointer.seq if after else before.seq,
        "release": before.release,
        "bundle_digest": before.bundle_digest,
        "expires": format_time(after.pointer.expires if after else before.expires),
        "bundle_expires": format_time(result.bundle_expires),
        "warning": result.warning,
    }
    if fmt == "json":
        echo_json(info)
    elif after is not None:
        echo(
            f"refreshed {env}: seq {before.seq} → {info['seq']}, release {before.release} "
            f"({before.bundle_digest}), channel expires {info['expires']} (was "
            f"{info['expires_before']}; bundle expires {info['bundle_expires']})"
        )
    else:
        echo(
            f"{env}: not due (channel seq {before.seq} expires {info['expires']}, "
            f"more than {within} day(s) away)"
        )
    if result.warning:
        echo(f"error: {result.warning}", err=True)
        return EXIT_FINDINGS
    return EXIT_OK
