"""``keys``, ``bundle``, ``publish`` and ``channel`` on real git repositories.

Each test imports this repository's own ``registry/``, ``environments/`` and
``CODEOWNERS`` into a fresh git repository (``tests/support/gitrepo.py``) and drives
``promptship.cli.main`` as a release manager or a pipeline would. The CLI
checks bundles against the wall clock, so a commit that must still be valid
is dated a day ago; the expiry test uses the pinned clock of 2024 instead.

Every private key a test generates is registered with the ``ps`` runner, and
its teardown fails the test if any output ever contained the key's material.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
import pytest
from cryptography.hazmat.primitives import serialization

import promptship
from gitrepo import EPOCH, commit, git, make_repo
from ociregistry import LocalRegistry
from promptship.client import PromptClient
from promptship.core.errors import BundleError, ChannelError
from promptship.release.allowed_signers import parse_allowed_signers
from promptship.release.attestation import ATTESTATION_NAMESPACE
from promptship.release.sshsig import BUNDLE_NAMESPACE, CHANNEL_NAMESPACE
from promptship.release.store import oci
from promptship.release.store.oci import _wire

from .conftest import Cli, Result

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(promptship.__file__).resolve().parents[1]
RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
NAMESPACES = f'namespaces="{BUNDLE_NAMESPACE},{CHANNEL_NAMESPACE},{ATTESTATION_NAMESPACE}"'


def registry_files() -> dict[str, bytes]:
    """This repository's registry/, environments/ and CODEOWNERS, by repository path."""
    files = {"CODEOWNERS": (REPO_ROOT / "CODEOWNERS").read_bytes()}
    for folder in ("registry", "environments"):
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.is_file():
                files[path.relative_to(REPO_ROOT).as_posix()] = path.read_bytes()
    return files


def _secrets_of(pem: bytes) -> set[str]:
    """Strings that would reveal a private key: its file's lines and its seed."""
    key = serialization.load_ssh_private_key(pem, password=None)
    seed = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    lines = {
        line.strip()
        for line in pem.decode().splitlines()
        if len(line) >= 16 and "-----" not in line
    }
    return lines | {base64.b64encode(seed).decode(), seed.hex()}


class Runner:
    """Runs the CLI, keeps every output, and knows which secrets must never appear."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli = cli
        self.tmp = tmp_path
        self.outputs: list[str] = []
        self.secrets: set[str] = set()

    def __call__(self, *args: str | Path) -> Result:
        result = self.cli(*args)
        self.outputs += [result.out, result.err]
        return result

    def key(self, name: str, *envs: str) -> tuple[Path, Path]:
        """``keys generate`` a key for ``envs``; returns (private key, allowed_signers file)."""
        path = self.tmp / "keys" / name
        path.parent.mkdir(exist_ok=True)
        args: list[str | Path] = ["keys", "generate", "-o", path]
        for env in envs:
            args += ["--env", env]
        result = self(*args)
        assert result.exit == 0, result.err
        secrets = _secrets_of(path.read_bytes())
        assert len(secrets) >= 5  # the key file's body lines and its seed
        self.secrets |= secrets
        signers = self.tmp / "keys" / f"{name}.allowed_signers"
        signers.write_text(result.out)
        return path, signers

    def check_no_secrets(self) -> None:
        for secret in self.secrets:
            for output in self.outputs:
                assert secret not in output, "a private key's material was printed"


@pytest.fixture
def ps(cli: Cli, tmp_path: Path) -> Iterator[Runner]:
    """The CLI runner; at teardown, no output may contain a generated key's material."""
    runner = Runner(cli, tmp_path)
    yield runner
    runner.check_no_secrets()


def test_the_secret_scan_catches_a_leak(cli: Cli, tmp_path: Path) -> None:
    """Guards the ``ps`` teardown against passing vacuously."""
    runner = Runner(cli, tmp_path)
    key, _ = runner.key("leaky", "staging")
    runner.check_no_secrets()
    runner.outputs.append("debug: " + key.read_text().splitlines()[2])
    with pytest.raises(AssertionError, match="private key's material was printed"):
        runner.check_no_secrets()


@pytest.fixture
def origin(tmp_path: Path) -> tuple[pygit2.Repository, str]:
    """A git repository holding this repository's registry in one commit, made a day ago."""
    repo = make_repo(tmp_path, "origin")
    sha = commit(repo, registry_files(), "import the registry", when=RECENT)
    return repo, sha


def _root(repo: pygit2.Repository) -> Path:
    assert repo.workdir
    return Path(repo.workdir)


def _build(ps: Runner, root: Path, env: str, out: Path, *extra: str) -> dict[str, object]:
    result = ps(
        "bundle", "build", "--env", env, "-o", out, "--root", root, "--format", "json", *extra
    )
    assert result.exit == 0, result.err
    info: dict[str, object] = result.json()
    return info


def _manifest_of(tar: Path) -> bytes:
    with tarfile.open(tar) as t:
        first = t.getmembers()[0]
        assert first.name == "manifest.json"
        f = t.extractfile(first)
        assert f is not None
        return f.read()


# --- determinism --------------------------------------------------------------------------

_BUILD = (
    "import os, sys\n"
    "os.umask(int(sys.argv[1], 8))\n"
    "from promptship.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _build_in_child(clone: Path, umask: str, tz: str, env: str, out: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _BUILD,
            umask,
            "bundle",
            "build",
            "--env",
            env,
            "-o",
            str(out),
            "--format",
            "json",
        ],
        cwd=clone,
        env={**os.environ, "PYTHONPATH": str(TOOLS), "TZ": tz, "LC_ALL": "C"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    info: dict[str, object] = json.loads(done.stdout)
    return info


def test_the_same_commit_builds_byte_identical_bundles_anywhere(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner
) -> None:
    repo, sha = origin
    a = tmp_path / "a" / "clone"
    b = tmp_path / "elsewhere" / "deeper" / "other-name"
    for dest in (a, b):
        dest.parent.mkdir(parents=True)
        git(dest.parent, "clone", "--quiet", str(_root(repo)), str(dest))
    # clone b: every file recreated in reverse order, owner-only, so the working
    # tree's creation order, inodes, times and modes all differ from clone a's
    tracked = sorted(p for p in b.rglob("*") if p.is_file() and ".git" not in p.parts)
    contents = {p: p.read_bytes() for p in tracked}
    for path in reversed(tracked):
        path.unlink()
    for path in reversed(tracked):
        path.write_bytes(contents[path])
        path.chmod(0o600)
    for env in ("staging", "production"):
        one = _build_in_child(a, "022", "UTC", env, tmp_path / "out-a")
        two = _build_in_child(b, "077", "Pacific/Kiritimati", env, tmp_path / "out-b")
        here = _build(ps, _root(repo), env, tmp_path / "out-here")
        tar_a = (tmp_path / "out-a" / f"{env}.tar").read_bytes()
        tar_b = (tmp_path / "out-b" / f"{env}.tar").read_bytes()
        assert tar_a == tar_b == (tmp_path / "out-here" / f"{env}.tar").read_bytes()
        assert one["digest"] == two["digest"] == here["digest"]
        manifest = _manifest_of(tmp_path / "out-a" / f"{env}.tar")
        assert one["digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
        assert json.loads(manifest)["source_commit"] == sha
    # the umasks really differed: the written files' modes show it
    assert (tmp_path / "out-a" / "staging.tar").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out-b" / "staging.tar").stat().st_mode & 0o777 == 0o600


# --- keys ---------------------------------------------------------------------------------


def test_keys_generate_and_ssh_keygen_accepts_our_signature(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner, ssh_keygen: str
) -> None:
    key, signers = ps.key("release", "staging")
    assert key.stat().st_mode & 0o777 == 0o600
    public = key.with_name("release.pub").read_text().strip()
    assert public.startswith("ssh-ed25519 ")
    assert signers.read_text() == f"staging@promptship {NAMESPACES} {public}\n"

    _build(ps, _root(origin[0]), "staging", tmp_path / "out")
    tar = tmp_path / "out" / "staging.tar"
    signed = ps("bundle", "sign", tar, "--key", key)
    assert signed.exit == 0, signed.err
    assert signed.out.startswith("signed sha256:")
    assert signed.out.rstrip().endswith("staging.tar.sig")
    sig = tmp_path / "out" / "staging.tar.sig"

    def ssh_verify(principal: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                ssh_keygen,
                "-Y",
                "verify",
                "-f",
                str(signers),
                "-I",
                principal,
                "-n",
                BUNDLE_NAMESPACE,
                "-s",
                str(sig),
            ],
            input=_manifest_of(tar).decode(),
            capture_output=True,
            text=True,
            check=False,
        )

    good = ssh_verify("staging@promptship")
    assert good.returncode == 0, good.stderr
    assert 'Good "promptship-bundle@v1" signature for staging@promptship' in good.stdout
    assert ssh_verify("production@promptship").returncode != 0

    ours = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert ours.exit == 0, ours.err
    assert "signed by staging@promptship" in ours.out

    before = key.read_bytes()
    again = ps("keys", "generate", "-o", key)
    assert (again.exit, key.read_bytes()) == (2, before)
    assert f"{key} exists" in again.err
    assert "--force" in again.err


def test_keys_generate_checks_the_environments_before_writing(tmp_path: Path, ps: Runner) -> None:
    key = tmp_path / "k"
    result = ps("keys", "generate", "-o", key, "--env", "staging", "--env", "Bad Env")
    assert result.exit == 2
    assert "'Bad Env' is not an environment name" in result.err
    assert sorted(tmp_path.iterdir()) == []


def test_keys_generate_refuses_a_key_git_would_commit(tmp_path: Path, ps: Runner) -> None:
    """Inside a work tree a private key must be ignored first; outside one, anything goes."""
    repo = tmp_path / "repo"
    pygit2.init_repository(repo)
    (repo / "keys").mkdir()
    key = repo / "keys" / "staging.key"
    refused = ps("keys", "generate", "-o", key, "--env", "staging")
    assert refused.exit == 2
    assert (
        f"{key} is inside the git work tree {repo.resolve()} and not ignored: "
        "`git add .` would commit the private key"
    ) in refused.err
    assert f"echo '/keys/staging.key' >> {repo.resolve() / '.gitignore'}" in refused.err
    assert not key.exists()
    # Once git ignores it (the command the hint gives), the key is written.
    (repo / ".gitignore").write_text("/keys/staging.key\n")
    ignored = ps("keys", "generate", "-o", key, "--env", "staging")
    assert ignored.exit == 0, ignored.err
    ps.secrets |= _secrets_of(key.read_bytes())
    # --force writes an unignored one anyway; a folder outside any work tree needs nothing.
    other = repo / "other.key"
    forced = ps("keys", "generate", "-o", other, "--env", "staging", "--force")
    assert forced.exit == 0, forced.err
    ps.secrets |= _secrets_of(other.read_bytes())
    outside = ps("keys", "generate", "-o", tmp_path / "outside" / "k", "--env", "staging")
    assert outside.exit == 0, outside.err
    ps.secrets |= _secrets_of((tmp_path / "outside" / "k").read_bytes())


def test_keys_generate_never_writes_through_a_planted_symlink(
    tmp_path: Path, ps: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "k"
    stolen = tmp_path / "readable-by-everyone"
    stolen.write_text("")
    stolen.chmod(0o644)
    monkeypatch.setattr(os, "getpid", lambda: 4242)
    tmp_name = tmp_path / ".k.tmp-4242"
    tmp_name.symlink_to(stolen)
    result = ps("keys", "generate", "-o", key)
    assert result.exit == 0, result.err
    assert stolen.read_text() == ""
    assert key.stat().st_mode & 0o777 == 0o600
    ps.secrets |= _secrets_of(key.read_bytes())


# --- bundle verify ------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner) -> tuple[Path, Path]:
    """Staging's bundle signed by a key allowed for staging and production: (tar, signers)."""
    key, signers = ps.key("release", "staging", "production")
    _build(ps, _root(origin[0]), "staging", tmp_path / "out", "--sign", "--key", key)
    return tmp_path / "out" / "staging.tar", signers


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _resign_raw(sig: Path, change: int) -> None:
    """Flip a byte of the raw Ed25519 value inside an armored SSHSIG (the blob's last 64 bytes)."""
    lines = sig.read_text().strip().splitlines()
    blob = bytearray(base64.b64decode("".join(lines[1:-1])))
    blob[len(blob) - 64 + change] ^= 0x01
    body = base64.b64encode(bytes(blob)).decode()
    armored = [lines[0], *(body[i : i + 70] for i in range(0, len(body), 70)), lines[-1]]
    sig.write_text("\n".join(armored) + "\n")


def test_verify_accepts_the_signed_bundle(signed: tuple[Path, Path], ps: Runner) -> None:
    tar, signers = signed
    result = ps(
        "bundle",
        "verify",
        tar,
        "--env",
        "staging",
        "--allowed-signers",
        signers,
        "--format",
        "json",
    )
    assert result.exit == 0, result.err
    info = result.json()
    assert (info["ok"], info["env"], info["release"]) == (True, "staging", 1)
    assert info["signer"] == "staging@promptship"


def test_verify_wrong_environment(signed: tuple[Path, Path], ps: Runner) -> None:
    tar, signers = signed
    result = ps("bundle", "verify", tar, "--env", "production", "--allowed-signers", signers)
    assert result.exit == 1
    assert "bundle is for environment 'staging', expected 'production'" in result.err


def test_verify_key_allowed_for_another_environment_only(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner
) -> None:
    key, signers = ps.key("staging-only", "staging")
    _build(ps, _root(origin[0]), "staging", tmp_path / "out", "--sign", "--key", key)
    result = ps(
        "bundle",
        "verify",
        tmp_path / "out" / "staging.tar",
        "--env",
        "production",
        "--allowed-signers",
        signers,
    )
    assert result.exit == 1
    assert "is not allowed to sign for production@promptship" in result.err


def test_verify_wrong_signer(signed: tuple[Path, Path], ps: Runner) -> None:
    tar, _ = signed
    _, strangers = ps.key("stranger", "staging")
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", strangers)
    assert result.exit == 1
    assert f"which {strangers} does not list" in result.err
    assert "add its public key" in result.err


def test_verify_tampered_tar(signed: tuple[Path, Path], ps: Runner) -> None:
    tar, signers = signed
    data = tar.read_bytes()
    _flip(tar, data.index(b'"id":"support/triage"') + 7)  # inside a prompt file
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert result.exit == 1
    assert (
        "member 'prompts/support/triage.json' does not match its sha256 in the manifest"
        in result.err
    )
    tar.write_bytes(data)
    _flip(tar, data.index(b'"environment":"staging"') + 16)  # inside the signed manifest
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert result.exit == 1
    assert "does not match the signed bytes" in result.err


def test_verify_tampered_signature(signed: tuple[Path, Path], ps: Runner) -> None:
    tar, signers = signed
    sig = tar.with_name("staging.tar.sig")
    good = sig.read_text()
    _resign_raw(sig, 5)
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert result.exit == 1
    assert "does not match the signed bytes" in result.err
    sig.write_text(good.replace("-----BEGIN SSH SIGNATURE-----", "-----BEGIN SIGNATURE-----"))
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert result.exit == 1
    assert "signature armor does not start with" in result.err
    sig.unlink()
    result = ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers)
    assert result.exit == 2
    assert "cannot read the signature" in result.err


def test_build_warns_when_the_bundle_expires_within_a_channel_lifetime(
    tmp_path: Path, ps: Runner
) -> None:
    files = registry_files()
    repo = make_repo(tmp_path, "recent")
    commit(repo, files, "registry", when=datetime.now(UTC) - timedelta(days=25))
    info = _build(ps, _root(repo), "staging", tmp_path / "out")  # 30-day bundles
    assert "expires at" in str(info["warning"])
    assert "in 4 day(s)" in str(info["warning"])
    fresh = make_repo(tmp_path, "fresh")
    commit(fresh, files, "registry", when=datetime.now(UTC) - timedelta(days=1))
    assert _build(ps, _root(fresh), "staging", tmp_path / "out2")["warning"] is None


def test_verify_expired_bundle(tmp_path: Path, ps: Runner) -> None:
    files = registry_files()
    staging = files["environments/staging.yaml"].decode()
    assert "bundle_expiry_days: 30" in staging
    files["environments/staging.yaml"] = staging.replace(
        "bundle_expiry_days: 30", "bundle_expiry_days: 1"
    ).encode()
    repo = make_repo(tmp_path, "old")
    commit(repo, files, "a release from the pinned past")  # at gitrepo.EPOCH
    key, signers = ps.key("release", "staging")
    info = _build(ps, _root(repo), "staging", tmp_path / "out", "--sign", "--key", key)
    expires = (EPOCH + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert info["expires"] == expires
    # The build says so at once (issue 11): the bundle is born expired.
    assert f"the bundle expired at {expires}" in str(info["warning"])
    text = ps("bundle", "build", "--env", "staging", "-o", tmp_path / "o2", "--root", _root(repo))
    assert text.exit == 0
    assert text.err.startswith(f"warning: the bundle expired at {expires}: its source commit")
    assert "raise policy.bundle_expiry_days" in text.err
    result = ps(
        "bundle",
        "verify",
        tmp_path / "out" / "staging.tar",
        "--env",
        "staging",
        "--allowed-signers",
        signers,
    )
    assert result.exit == 1
    assert f"bundle expired at {expires}" in result.err
    published = ps(
        "publish",
        "--env",
        "staging",
        "--store",
        tmp_path / "store",
        "--key",
        key,
        "--allowed-signers",
        signers,
        "--root",
        _root(repo),
    )
    assert published.exit == 1
    assert f"bundle expired at {expires}" in published.err
    assert not (tmp_path / "store").exists()


# --- publish and channels -----------------------------------------------------------------


def test_publish_twice_then_channel_show(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner
) -> None:
    root = _root(origin[0])
    key, signers = ps.key("release", "staging")
    store_dir = tmp_path / "store"
    publish = (
        "publish",
        "--env",
        "staging",
        "--store",
        store_dir,
        "--key",
        key,
        "--allowed-signers",
        signers,
        "--root",
        root,
    )
    first, second = ps(*publish), ps(*publish, "--format", "json")
    assert (first.exit, second.exit) == (0, 0), first.err + second.err
    assert " as seq 1, channel expires " in first.out
    assert second.json()["seq"] == 2
    digest = _build(ps, root, "staging", tmp_path / "out")["digest"]
    assert second.json()["bundle_digest"] == digest
    shown = ps(
        "channel",
        "show",
        "staging",
        "--store",
        store_dir,
        "--allowed-signers",
        signers,
        "--format",
        "json",
    )
    assert shown.exit == 0, shown.err
    info = shown.json()
    assert (info["env"], info["seq"], info["release"], info["bundle_digest"]) == (
        "staging",
        2,
        1,
        digest,
    )
    assert info["signer"] == "staging@promptship"
    text = ps("channel", "show", "staging", "--store", store_dir, "--allowed-signers", signers)
    assert "seq: 2\n" in text.out
    _, strangers = ps.key("stranger", "staging")
    refused = ps("channel", "show", "staging", "--store", store_dir, "--allowed-signers", strangers)
    assert refused.exit == 1
    assert "signature does not verify" in refused.err
    missing = ps(
        "channel", "show", "production", "--store", store_dir, "--allowed-signers", signers
    )
    assert missing.exit == 1
    assert "no channel published for 'production'" in missing.err
    plain = ps(
        "channel",
        "show",
        "staging",
        "--store",
        store_dir,
        "--plain-http",
        "--allowed-signers",
        signers,
    )
    assert plain.exit == 2
    assert "--plain-http applies to oci:// stores only" in plain.err


# --- pinned environments ------------------------------------------------------------------


def _pin(repo: pygit2.Repository, number: int, source: str, digest: str, message: str) -> str:
    text = registry_files()["environments/production.yaml"].decode()
    pinned = (
        text
        + f'release:\n  number: {number}\n  source_commit: {source}\n  bundle_digest: "{digest}"\n'
    )
    return commit(repo, {"environments/production.yaml": pinned}, message)


def test_a_pinned_environment_builds_its_release(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner
) -> None:
    repo, source = origin
    root = _root(repo)
    unpinned = _build(ps, root, "production", tmp_path / "at-source")
    assert (unpinned["release"], unpinned["source_commit"]) == (1, source)

    # pin production to that release, then change a prompt on main
    _pin(repo, 1, source, str(unpinned["digest"]), "promote release 1")
    triage = registry_files()["registry/support/triage.yaml"].decode()
    changed = triage.replace("description: Classifies", "description: Sorts", 1)
    assert changed != triage
    head = commit(repo, {"registry/support/triage.yaml": changed}, "reword triage")

    pinned = _build(ps, root, "production", tmp_path / "pinned")
    assert pinned["digest"] == unpinned["digest"]
    assert (pinned["release"], pinned["source_commit"]) == (1, source)
    assert (tmp_path / "pinned" / "production.tar").read_bytes() == (
        tmp_path / "at-source" / "production.tar"
    ).read_bytes()
    staging = _build(ps, root, "staging", tmp_path / "staging")
    assert staging["source_commit"] == head
    shown = ps("bundle", "inspect", tmp_path / "staging" / "staging.tar", "--format", "json")
    assert shown.exit == 0
    assert shown.json()["manifest"]["source_commit"] == head

    # the digest is bound to the release number: the same content as release 2 differs
    _pin(repo, 2, source, str(unpinned["digest"]), "pin release 2 with release 1's digest")
    renumbered = ps("bundle", "build", "--env", "production", "-o", tmp_path / "r2", "--root", root)
    assert renumbered.exit == 1
    assert "rebuilt production release 2 is sha256:" in renumbered.err

    wrong = "sha256:" + "0" * 64
    _pin(repo, 1, source, wrong, "pin a wrong digest")
    result = ps("bundle", "build", "--env", "production", "-o", tmp_path / "wrong", "--root", root)
    assert result.exit == 1
    assert (
        f"rebuilt production release 1 is {unpinned['digest']}, but the environment pins {wrong}"
        in result.err
    )
    assert "promote again" in result.err
    assert not (tmp_path / "wrong").exists()
    key, signers = ps.key("release", "production")
    published = ps(
        "publish",
        "--env",
        "production",
        "--store",
        tmp_path / "store",
        "--key",
        key,
        "--allowed-signers",
        signers,
        "--root",
        root,
    )
    assert published.exit == 1
    assert "but the environment pins" in published.err
    assert not (tmp_path / "store").exists()


# --- the key from the environment ---------------------------------------------------------


def test_the_signing_key_from_the_environment(
    tmp_path: Path,
    origin: tuple[pygit2.Repository, str],
    ps: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = _root(origin[0])
    key, signers = ps.key("ci", "staging")
    pem = key.read_text()
    monkeypatch.setenv("PROMPTSHIP_SIGNING_KEY", pem)
    built = ps(
        "bundle", "build", "--env", "staging", "-o", tmp_path / "out", "--sign", "--root", root
    )
    assert built.exit == 0, built.err
    assert built.out.rstrip().endswith("(signed)")
    tar = tmp_path / "out" / "staging.tar"
    assert ps("bundle", "verify", tar, "--env", "staging", "--allowed-signers", signers).exit == 0
    assert ps("bundle", "sign", tar).exit == 0
    published = ps(
        "publish",
        "--env",
        "staging",
        "--store",
        tmp_path / "store",
        "--allowed-signers",
        signers,
        "--root",
        root,
    )
    assert published.exit == 0, published.err

    missing = ps("bundle", "sign", tar, "--key-env", "PROMPTSHIP_NO_SUCH_KEY")
    assert missing.exit == 2
    assert "no signing key" in missing.err
    assert "$PROMPTSHIP_NO_SUCH_KEY" in missing.err

    # a damaged secret is reported by name, never echoed
    lines = pem.splitlines()
    lines[2] = lines[2][::-1]
    monkeypatch.setenv("PROMPTSHIP_SIGNING_KEY", "\n".join(lines) + "\n")
    damaged = ps("bundle", "sign", tar)
    assert damaged.exit == 2
    assert "$PROMPTSHIP_SIGNING_KEY: the private key cannot be read" in damaged.err
    ps.secrets |= {line for line in lines if len(line) >= 16 and "-----" not in line}


# --- OCI registry -------------------------------------------------------------------------


def test_publish_to_an_oci_registry_and_read_it_back(
    tmp_path: Path, origin: tuple[pygit2.Repository, str], ps: Runner, oci_registry: LocalRegistry
) -> None:
    root = _root(origin[0])
    url = oci_registry.url("promptship/registry")
    key, signers = ps.key("release", "staging")
    publish = (
        "publish",
        "--env",
        "staging",
        "--store",
        url,
        "--plain-http",
        "--key",
        key,
        "--allowed-signers",
        signers,
        "--root",
        root,
    )
    first, second = ps(*publish), ps(*publish, "--format", "json")
    assert first.exit == 0, first.err
    assert " as seq 1, " in first.out
    assert second.exit == 0, second.err
    digest = second.json()["bundle_digest"]
    assert second.json()["seq"] == 2

    shown = ps(
        "channel",
        "show",
        "staging",
        "--store",
        url,
        "--plain-http",
        "--allowed-signers",
        signers,
        "--format",
        "json",
    )
    assert shown.exit == 0, shown.err
    assert (shown.json()["seq"], shown.json()["bundle_digest"]) == (2, digest)

    # what an application does later: pull the channel and its bundle, verified
    allowed = parse_allowed_signers(signers.read_text(), source=str(signers))
    target = oci.parse_target(url, plain_http=True)
    now = datetime.now(UTC)
    channel, bundle = oci.open_channel_bundle(target, "staging", allowed, now=now, min_seq=2)
    built = _build(ps, root, "staging", tmp_path / "out")
    assert bundle.digest == digest == built["digest"]
    assert channel.pointer.seq == 2
    with PromptClient.from_channel(
        url, env="staging", allowed_signers=allowed, refresh_interval=None
    ) as client:
        assert (client.status().bundle_digest, client.status().seq) == (digest, 2)
        assert (
            client.get("support/triage")
            .render(subject="s", channel="email", customer_message="m")
            .ref.bundle_digest
            == digest
        )

    # someone with write access pushes a different tar under the bundle's tag
    other = tmp_path / "other"
    _build(ps, root, "production", other, "--sign", "--key", key)
    forged_tar = (other / "production.tar").read_bytes()
    assert forged_tar != (tmp_path / "out" / "staging.tar").read_bytes()
    original_sig = _wire.fetch_bundle(_wire.Registry(target), target, str(digest), 10**8)[1]
    _wire.push_artifact(
        _wire.Registry(target),
        target,
        oci.bundle_tag(str(digest)),
        "bundle",
        [
            ("bundle.tar", oci.BUNDLE_LAYER_TYPE, forged_tar),
            ("bundle.tar.sig", oci.SIGNATURE_LAYER_TYPE, original_sig.encode()),
        ],
        {},
    )
    # the manifest's digest is compared before the signature (docs/decisions.md, "Check order")
    with pytest.raises(BundleError, match=f"bundle digest mismatch: expected {digest}"):
        oci.pull_bundle(target, str(digest), allowed, env="staging", now=now)
    with pytest.raises(BundleError, match=f"bundle digest mismatch: expected {digest}"):
        oci.open_channel_bundle(target, "staging", allowed, now=now)
    with pytest.raises(ChannelError, match="cannot start"):
        PromptClient.from_channel(
            url, env="staging", allowed_signers=allowed, refresh_interval=None
        )
    # the channel itself is untouched and still verifies
    assert (
        ps(
            "channel",
            "show",
            "staging",
            "--store",
            url,
            "--plain-http",
            "--allowed-signers",
            signers,
        ).exit
        == 0
    )
    # publishing again refuses to overwrite the tampered tag
    again = ps(*publish)
    assert again.exit == 1
    assert "exists with different content" in again.err

    # TLS is the default; plain HTTP only for loopback hosts, and only when asked
    tls = ps("channel", "show", "staging", "--store", url, "--allowed-signers", signers)
    assert tls.exit == 1
    assert "cannot read the manifest" in tls.err
    remote = ps(
        "channel",
        "show",
        "staging",
        "--store",
        "oci://registry.example/x",
        "--plain-http",
        "--allowed-signers",
        signers,
    )
    assert remote.exit == 2
    assert "plain HTTP refused for registry.example" in remote.err
