"""``promptship bundle``: build, sign, verify, inspect and compare release bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from promptship.cli._app import cli
from promptship.cli._common import echo, echo_json, format_option, root_option
from promptship.cli._release import allowed_signers, key_options, now, signers_option, signing_key
from promptship.git import open_repository
from promptship.history.diff import PromptDiff, comparable, compare_views
from promptship.history.report import to_json, to_markdown, to_text
from promptship.release.bundle_file import (
    expiry_warning,
    inspect_bundle_file,
    sign_bundle_file,
    verify_bundle_file,
    write_bundle,
)
from promptship.release.manifest import format_time


@cli.group("bundle")
def bundle_group() -> None:
    """Build, sign, verify, inspect and compare release bundles."""


@bundle_group.command("build")
@click.option("--env", required=True, help="Environment to build (staging, production, …).")
@click.option(
    "--ref",
    default="HEAD",
    show_default=True,
    help="Commit to build (a pinned environment builds its release).",
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for ENV.tar (and ENV.tar.sig with --sign).",
)
@click.option(
    "--sign", is_flag=True, help="Also sign it (key from --key or $PROMPTSHIP_SIGNING_KEY)."
)
@key_options
@root_option
@format_option("text", "json")
def bundle_build(
    env: str,
    ref: str,
    out_dir: Path,
    sign: bool,
    key_file: Path | None,
    key_env: str,
    root: Path | None,
    fmt: str,
) -> int:
    """Build ENV's bundle from git: byte-identical on any machine.

    The registry at the source commit must validate. A pinned environment
    (release block in environments/ENV.yaml) builds its pinned release, and the
    build fails if the digest differs from the pin. A bundle expires
    bundle_expiry_days after its source commit: a warning on stderr says when
    the bundle built is already expired, or expires within a channel's lifetime.

    \b
    Examples:
      promptship bundle build --env staging -o dist --sign --key staging.key
      promptship bundle build --env production -o dist --sign --key production.key --format json
    """
    repo = open_repository(root or Path.cwd())
    key = signing_key(key_file, key_env) if sign else None
    written = write_bundle(repo, env, out_dir, ref=ref, key=key)
    built = written.built
    info = {
        "env": env,
        "release": built.plan.number,
        "source_commit": built.plan.source_commit,
        "digest": built.bundle.digest,
        "prompts": built.prompts,
        "bytes": len(built.bundle.tar),
        "expires": format_time(built.expires),
        "path": str(written.tar),
        "signed": key is not None,
        "warning": expiry_warning(built, now()),
    }
    if fmt == "json":
        echo_json(info)
    else:
        echo(
            f"built {written.tar}: {env} release {info['release']}, {info['prompts']} prompts, "
            f"{info['bytes']:,} bytes, {info['digest']}" + (" (signed)" if key else "")
        )
    if info["warning"]:
        echo(f"warning: {info['warning']}", err=True)
    return 0


@bundle_group.command("sign")
@click.argument("tar", type=click.Path(dir_okay=False, path_type=Path))
@key_options
def bundle_sign(tar: Path, key_file: Path | None, key_env: str) -> int:
    """Sign bundle TAR's manifest, writing TAR.sig.

    The key comes from --key or the variable --key-env names; it must be one
    environments/allowed_signers allows for the bundle's environment.

    \b
    Example:
      promptship bundle sign dist/staging.tar --key staging.key
    """
    verified = sign_bundle_file(tar, signing_key(key_file, key_env))
    echo(f"signed {verified.digest} → {tar.name}.sig")
    return 0


@bundle_group.command("verify")
@click.argument("tar", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--env", required=True, help="The environment the bundle must be for.")
@click.option(
    "--sig",
    "sig_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signature file (default: TAR.sig).",
)
@signers_option
@root_option
@format_option("text", "json")
def bundle_verify(
    tar: Path, env: str, sig_path: Path | None, signers: Path | None, root: Path | None, fmt: str
) -> int:
    """Verify bundle TAR for ENV, as an application's client does.

    Checks the signature (an allowed signer for ENV@promptship, namespace
    promptship-bundle@v1), the canonical manifest, that every member is listed,
    regular, safely named, of the right size and sha256, and the environment
    and expiry.

    \b
    Examples:
      promptship bundle verify dist/staging.tar --env staging
      promptship bundle verify dist/production.tar --env production --format json
    """
    verified = verify_bundle_file(tar, sig_path, allowed_signers(signers, root), env=env, now=now())
    m = verified.manifest
    info = {
        "ok": True,
        "digest": verified.digest,
        "env": m.environment,
        "release": m.release,
        "source_commit": m.source_commit,
        "expires": format_time(m.expires),
        "files": len(m.files),
        "signer": verified.signer.principal if verified.signer else None,
    }
    if fmt == "json":
        echo_json(info)
    else:
        echo(
            f"ok: {tar} is {env} release {m.release} ({verified.digest}), {len(m.files)} files, signed by {info['signer']}, expires {info['expires']}"
        )
    return 0


@bundle_group.command("inspect")
@click.argument("tar", type=click.Path(dir_okay=False, path_type=Path))
@format_option("text", "json")
def bundle_inspect(tar: Path, fmt: str) -> int:
    """Show a bundle's manifest and prompts (integrity checked, signature not).

    \b
    Examples:
      promptship bundle inspect dist/staging.tar
      promptship bundle inspect dist/staging.tar --format json
    """
    verified, documents = inspect_bundle_file(tar)
    m = verified.manifest
    prompts = [
        {
            "id": doc.id,
            "version": doc.version,
            "content_digest": doc.content_digest,
            "variants": sorted(doc.variants),
        }
        for doc in documents.prompts
    ]
    if fmt == "json":
        echo(
            json.dumps(
                {
                    "digest": verified.digest,
                    "manifest": json.loads(verified.manifest_bytes),
                    "prompts": prompts,
                },
                indent=2,
            )
        )
        return 0
    echo(
        f"{verified.digest}\n  env {m.environment}, release {m.release}, source {m.source_commit}\n  created {format_time(m.created)}, expires {format_time(m.expires)}, {len(m.files)} files"
    )
    for p in prompts:
        variants = f" variants: {', '.join(p['variants'])}" if p["variants"] else ""
        echo(f"  {p['id']:<40} {p['version']:<10} {p['content_digest'][:19]}…{variants}")
    return 0


def _bundle_views(tar: Path) -> tuple[str, dict[str, dict[str, Any]], dict[str, str]]:
    verified, documents = inspect_bundle_file(tar)
    views: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    for doc in documents.prompts:
        views[doc.id] = comparable(doc.view, {"fragments": doc.fragments, "variants": doc.variants})
        versions[doc.id] = doc.version
    return verified.manifest.environment, views, versions


@bundle_group.command("diff")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@format_option("text", "markdown", "json")
def bundle_diff(a: Path, b: Path, fmt: str) -> int:
    """Semantic diff between two bundles (what changes for applications).

    \b
    Examples:
      promptship bundle diff dist/production.tar dist/staging.tar
      promptship bundle diff dist/production.tar dist/staging.tar --format markdown
    """
    env_a, old, old_v = _bundle_views(a)
    env_b, new, new_v = _bundle_views(b)
    env = env_b if env_a == env_b else f"{env_a}→{env_b}"
    diffs = []
    for pid in sorted(set(old) | set(new)):
        e = compare_views(env, old.get(pid), new.get(pid))
        status = "added" if pid not in old else "removed" if pid not in new else e.status
        if status != "unchanged":
            diffs.append(
                PromptDiff(
                    pid,
                    status,
                    (e,) if status == "changed" else (),
                    None,
                    old_v.get(pid),
                    new_v.get(pid),
                )
            )
    if fmt == "json":
        echo_json(to_json(diffs, str(a), str(b)))
    elif fmt == "markdown":
        echo(to_markdown(diffs, str(a), str(b)), nl=False)
    else:
        echo(to_text(diffs, str(a), str(b)), nl=False)
    return 0
