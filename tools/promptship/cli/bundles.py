"""``promptship keys``, ``bundle``, ``publish`` and ``channel``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship.cli._app import cli
from promptship.cli._common import format_option, root_option
from promptship.core.errors import UsageError
from promptship.fs import write_atomic
from promptship.git import open_repository
from promptship.history.diff import comparable, compare_views
from promptship.history.report import to_json, to_markdown, to_text
from promptship.registry.files import find_root
from promptship.release import build as release
from promptship.release import bundle as bundles
from promptship.release import sshsig
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.document import read_bundle_documents
from promptship.release.keys import KEY_ENV, read_allowed_signers, read_signing_key, write_keypair
from promptship.release.manifest import format_time
from promptship.release.store import folder as store


def _now() -> datetime:
    return datetime.now(UTC)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read {what}: {e.strerror}") from None


def signing_key(key_file: Path | None, key_env: str) -> sshsig.SigningKey:
    """The signing key from ``--key FILE`` or the environment variable ``key_env``."""
    return read_signing_key(key_file, key_env)


def allowed_signers(path: Path | None, root: Path | None) -> AllowedSigners:
    """``--allowed-signers`` or the repository's ``environments/allowed_signers``."""
    if path is None:
        path = find_root(root or Path.cwd()) / "environments" / "allowed_signers"
    return read_allowed_signers(path)


def key_options(fn: Any) -> Any:
    """``--key`` and ``--key-env``."""
    fn = click.option(
        "--key-env",
        default=KEY_ENV,
        show_default=True,
        help="Environment variable holding the private key (when --key is not given).",
    )(fn)
    return click.option(
        "--key",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="OpenSSH Ed25519 private key file.",
    )(fn)


def store_options(fn: Any) -> Any:
    """``--store`` (a folder or ``oci://HOST[:PORT]/REPO``) and ``--plain-http``."""
    fn = click.option(
        "--plain-http",
        is_flag=True,
        help="Reach an oci:// registry on localhost/127.0.0.1 over plain HTTP "
        "(refused for any other host).",
    )(fn)
    return click.option(
        "--store",
        "store_url",
        metavar="DIR|oci://HOST[:PORT]/REPO",
        required=True,
        help="Store directory (any static host can serve it) or OCI registry repository.",
    )(fn)


def oci_target(store_url: str, plain_http: bool) -> Any:
    """The OCI repository ``store_url`` names, or ``None`` for a store directory."""
    if not store_url.startswith("oci://"):
        if plain_http:
            raise UsageError("--plain-http applies to oci:// stores only")
        return None
    try:
        from promptship.release.store import oci
    except ModuleNotFoundError as e:
        raise UsageError(
            f"the OCI backend needs the oci extra ({e.name} is not installed)",
            hint="pip install 'promptship[oci]'",
        ) from e
    return oci.parse_target(store_url, plain_http=plain_http)


def signers_option(fn: Any) -> Any:
    """``--allowed-signers``."""
    return click.option(
        "--allowed-signers",
        "signers",
        type=click.Path(dir_okay=False, path_type=Path),
        help="OpenSSH allowed_signers file (default: environments/allowed_signers).",
    )(fn)


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519, OpenSSH format)."""


@keys.command("generate")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Private key file to write (the public key goes to OUT.pub).",
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    default=("staging", "production"),
    show_default=True,
    help="Environments this key may sign for. Repeatable.",
)
@click.option("--comment", default="promptship release key", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
def keys_generate(out: Path, envs: tuple[str, ...], comment: str, force: bool) -> int:
    """Write a new Ed25519 key pair and print its allowed_signers line.

    The private key is written with mode 0600 and never printed. Add the
    printed line to environments/allowed_signers (through a reviewed PR) and
    store the private key as a CI secret (e.g. PROMPTSHIP_SIGNING_KEY).

    \b
    Example:
      promptship keys generate -o ~/.ssh/promptship_production --env production
    """
    click.echo(write_keypair(out, envs, comment, force=force))
    return 0


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
    build fails if the digest differs from the pin.

    \b
    Example:
      promptship bundle build --env staging -o dist --sign --key dev_key
    """
    repo = open_repository(root or Path.cwd())
    built = release.build_from_git(repo, env, ref)
    release.check_pin(built)
    key = signing_key(key_file, key_env) if sign else None
    tar_path = out_dir / f"{env}.tar"
    write_atomic(tar_path, built.bundle.tar, make_parents=True, apply_umask=True)
    if key is not None:
        sig = sshsig.sign(key, built.bundle.manifest, sshsig.BUNDLE_NAMESPACE)
        write_atomic(out_dir / f"{env}.tar.sig", sig.encode(), make_parents=True, apply_umask=True)
    info = {
        "env": env,
        "release": built.plan.number,
        "source_commit": built.plan.source_commit,
        "digest": built.bundle.digest,
        "prompts": built.prompts,
        "bytes": len(built.bundle.tar),
        "expires": format_time(built.expires),
        "path": str(tar_path),
        "signed": key is not None,
    }
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(
            f"built {tar_path}: {env} release {info['release']}, {info['prompts']} prompts, "
            f"{info['bytes']:,} bytes, {info['digest']}" + (" (signed)" if key else "")
        )
    return 0


@bundle_group.command("sign")
@click.argument("tar", type=click.Path(dir_okay=False, path_type=Path))
@key_options
def bundle_sign(tar: Path, key_file: Path | None, key_env: str) -> int:
    """Sign bundle TAR's manifest, writing TAR.sig."""
    verified = bundles.read_bundle(_read(tar, "the bundle"))
    key = signing_key(key_file, key_env)
    sig = sshsig.sign(key, verified.manifest_bytes, sshsig.BUNDLE_NAMESPACE)
    write_atomic(
        tar.with_name(tar.name + ".sig"), sig.encode(), make_parents=True, apply_umask=True
    )
    click.echo(f"signed {verified.digest} → {tar.name}.sig")
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
    """
    sig = _read(sig_path or tar.with_name(tar.name + ".sig"), "the signature").decode(
        "ascii", "replace"
    )
    verified = bundles.verify_bundle(
        _read(tar, "the bundle"), sig, allowed_signers(signers, root), environment=env, now=_now()
    )
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
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(
            f"ok: {tar} is {env} release {m.release} ({verified.digest}), {len(m.files)} files, signed by {info['signer']}, expires {info['expires']}"
        )
    return 0


@bundle_group.command("inspect")
@click.argument("tar", type=click.Path(dir_okay=False, path_type=Path))
@format_option("text", "json")
def bundle_inspect(tar: Path, fmt: str) -> int:
    """Show a bundle's manifest and prompts (integrity checked, signature not)."""
    verified = bundles.read_bundle(_read(tar, "the bundle"))
    m = verified.manifest
    prompts = [
        {
            "id": doc.id,
            "version": doc.version,
            "content_digest": doc.content_digest,
            "variants": sorted(doc.variants),
        }
        for doc in read_bundle_documents(
            verified.files, env=m.environment, release=m.release
        ).prompts
    ]
    if fmt == "json":
        click.echo(
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
    click.echo(
        f"{verified.digest}\n  env {m.environment}, release {m.release}, source {m.source_commit}\n  created {format_time(m.created)}, expires {format_time(m.expires)}, {len(m.files)} files"
    )
    for p in prompts:
        variants = f" variants: {', '.join(p['variants'])}" if p["variants"] else ""
        click.echo(f"  {p['id']:<40} {p['version']:<10} {p['content_digest'][:19]}…{variants}")
    return 0


def _bundle_views(tar: Path) -> tuple[str, dict[str, dict[str, Any]], dict[str, str]]:
    verified = bundles.read_bundle(_read(tar, "the bundle"))
    env = verified.manifest.environment
    views: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    documents = read_bundle_documents(verified.files, env=env, release=verified.manifest.release)
    for doc in documents.prompts:
        views[doc.id] = comparable(doc.view, {"fragments": doc.fragments, "variants": doc.variants})
        versions[doc.id] = doc.version
    return env, views, versions


@bundle_group.command("diff")
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path))
@format_option("text", "markdown", "json")
def bundle_diff(a: Path, b: Path, fmt: str) -> int:
    """Semantic diff between two bundles (what changes for applications)."""
    from promptship.history.diff import PromptDiff

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
        click.echo(json.dumps(to_json(diffs, str(a), str(b)), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(to_markdown(diffs, str(a), str(b)), nl=False)
    else:
        click.echo(to_text(diffs, str(a), str(b)), nl=False)
    return 0


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
      promptship publish --env staging --store dist/store
      promptship publish --env production --store oci://ghcr.io/acme/prompts
    """
    target = oci_target(store_url, plain_http)
    repo = open_repository(root or Path.cwd())
    built = release.build_from_git(repo, env, ref)
    release.check_pin(built)
    key = signing_key(key_file, key_env)
    allowed = allowed_signers(signers, root)
    sig = sshsig.sign(key, built.bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    args: dict[str, Any] = {
        "env": env,
        "release": built.plan.number,
        "now": _now(),
        "expiry_days": built.channel_expiry_days,
        "allowed": allowed,
    }
    if target is None:
        channel = store.publish(Path(store_url), built.bundle, sig, key, **args)
    else:
        from promptship.release.store import oci

        channel = oci.publish(target, built.bundle, sig, key, **args)
    p = channel.pointer
    if fmt == "json":
        click.echo(
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
        click.echo(
            f"published {env} release {p.release} ({p.bundle_digest}) as seq {p.seq}, channel expires {format_time(p.expires)}"
        )
    return 0


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
    target = oci_target(store_url, plain_http)
    allowed = allowed_signers(signers, root)
    if target is None:
        channel = store.read_channel(Path(store_url), env, allowed, now=_now())
    else:
        from promptship.release.store import oci

        channel = oci.pull_channel(target, env, allowed, now=_now())
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
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo("\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0
