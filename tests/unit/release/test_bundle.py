"""Deterministic bundles, and one rejection test per way a hostile bundle can be built."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from promptship.core.errors import (
    BundleError,
    PromptshipError,
    SignatureError,
    SignatureInvalid,
    SignatureKeyNotAllowed,
    SignatureUnknownKey,
)
from promptship.release import allowed_signers, sshsig
from promptship.release import bundle as b
from promptship.release import manifest as m
from signkeys import KeyPair

CREATED = datetime(2025, 5, 1, 9, 30, 15, tzinfo=UTC)
EXPIRES = CREATED + timedelta(days=30)
NOW = CREATED + timedelta(days=1)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "prompts/support/triage.json": b'{"id":"support/triage","text":"Hello {{ name }}"}',
    "index.json": b'{"prompts":["billing/refund","support/triage"]}',
    "prompts/billing/refund.json": b'{"id":"billing/refund"}' * 40,
}
ARGS: dict[str, Any] = {
    "environment": "production",
    "release": 7,
    "source_commit": COMMIT,
    "created": CREATED,
    "expires": EXPIRES,
}
# sha256 of the bundle of FILES with ARGS. Pinned so that a format change is a
# deliberate decision (update it in the same commit and say so); the test below
# also rebuilds it in fresh interpreters under other umasks, time zones and hash
# seeds, so the pin is only trusted because it is reproduced every run.
GOLDEN_TAR_SHA256 = "197c9a319008acdb33baec9e6323494d48dba129c5158a9e7c39bdc9e84fca5d"


def _build(files: dict[str, bytes] | None = None, **over: Any) -> b.Bundle:
    return b.build_bundle(FILES if files is None else files, **{**ARGS, **over})


def _sign(bundle: b.Bundle, pair: KeyPair) -> str:
    return sshsig.sign(pair.key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)


# --- determinism -----------------------------------------------------------------------


def test_same_inputs_same_bytes_whatever_the_order_and_umask() -> None:
    old = os.umask(0o077)
    try:
        first = _build(dict(sorted(FILES.items())))
    finally:
        os.umask(0o002)
    try:
        second = _build(dict(sorted(FILES.items(), reverse=True)))
    finally:
        os.umask(old)
    assert first.tar == second.tar
    assert first.digest == second.digest == m.manifest_digest(first.manifest)
    assert len(first.tar) % 10240 == 0


_REBUILD = """
import hashlib, sys
from datetime import datetime, timedelta, UTC
sys.path.insert(0, sys.argv[1])
from promptship.release.bundle import build_bundle
created = datetime(2025, 5, 1, 9, 30, 15, tzinfo=UTC)
files = {p: bytes.fromhex(h) for p, h in %r.items()}
out = build_bundle(files, environment="production", release=7,
    source_commit="0123456789abcdef0123456789abcdef01234567",
    created=created, expires=created + timedelta(days=30))
print(hashlib.sha256(out.tar).hexdigest())
"""


def test_golden_digest_is_reproduced_in_other_processes() -> None:
    tools = str(Path(b.__file__).resolve().parents[2])
    script = _REBUILD % {p: d.hex() for p, d in reversed(FILES.items())}
    seen = {hashlib.sha256(_build().tar).hexdigest()}
    for umask, tz, seed in [("077", "Pacific/Auckland", "1"), ("000", "America/Los_Angeles", "2")]:
        env = {**os.environ, "TZ": tz, "PYTHONHASHSEED": seed, "LC_ALL": "C"}
        done = subprocess.run(
            [
                *("/bin/sh", "-c", f'umask {umask} && exec "$0" -c "$1" "$2"'),
                *(sys.executable, script, tools),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        seen.add(done.stdout.strip())
    assert seen == {GOLDEN_TAR_SHA256}


def test_archive_is_what_tarfile_writes_in_ustar_format() -> None:
    bundle = _build()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in [("manifest.json", bundle.manifest), *sorted(FILES.items())]:
            tf.addfile(_info(name, data), io.BytesIO(data))
    assert buf.getvalue() == bundle.tar
    with tarfile.open(fileobj=io.BytesIO(bundle.tar)) as tf:
        members = tf.getmembers()
    assert [t.name for t in members] == ["manifest.json", *sorted(FILES)]
    assert {(t.mode, t.uid, t.gid, t.uname, t.gname, t.mtime) for t in members} == {
        (0o644, 0, 0, "", "", int(CREATED.timestamp()))
    }


def test_gnu_tar_lists_and_extracts_it(tmp_path: Path) -> None:
    tar = shutil.which("tar")
    if tar is None:
        pytest.skip("no tar command")
    long_name = "d" * 150 + "/" + "n" * 90
    bundle = _build({**FILES, long_name: b"long"})
    (tmp_path / "b.tar").write_bytes(bundle.tar)
    listed = subprocess.run(
        [tar, "-tf", str(tmp_path / "b.tar")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == ["manifest.json", long_name, *sorted(FILES)]
    manifest = subprocess.run(
        [tar, "-xOf", str(tmp_path / "b.tar"), "manifest.json"], capture_output=True, check=True
    ).stdout
    assert manifest == bundle.manifest


# --- reading and verifying --------------------------------------------------------------


def test_read_bundle_returns_the_files(keypairs: dict[str, KeyPair]) -> None:
    bundle = _build(evals="sha256:" + "ef" * 32)
    read = b.read_bundle(bundle.tar)
    assert dict(read.files) == FILES
    assert read.manifest_bytes == bundle.manifest
    assert read.digest == bundle.digest
    assert read.manifest.evals == "sha256:" + "ef" * 32
    assert read.signer is None
    with pytest.raises(TypeError):
        read.files["x"] = b""  # type: ignore[index]


def test_verify_bundle_names_the_signer(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    verified = b.verify_bundle(
        bundle.tar,
        _sign(bundle, keypairs["production"]),
        allowed,
        environment="production",
        now=NOW,
    )
    assert verified.signer is not None
    assert verified.signer.principal == "production@promptship"
    assert verified.signer.fingerprint == keypairs["production"].key.fingerprint
    assert dict(verified.files) == FILES


def test_expect_digest_is_checked_before_the_signature(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    other = _build(release=8)
    signature = _sign(bundle, keypairs["production"])
    ok = b.verify_bundle(
        bundle.tar,
        signature,
        allowed,
        environment="production",
        now=NOW,
        expect_digest=bundle.digest,
    )
    assert ok.digest == bundle.digest
    # another bundle under this name, with a signature that would fail too: the digest speaks first
    with pytest.raises(BundleError, match=f"expected {bundle.digest}") as caught:
        b.verify_bundle(
            other.tar, signature, allowed, environment="production", now=NOW,
            expect_digest=bundle.digest,
        )  # fmt: skip
    assert f"got {other.digest}" in str(caught.value)


def test_empty_bundle_round_trips() -> None:
    bundle = _build({})
    assert dict(b.read_bundle(bundle.tar).files) == {}


def test_build_refuses_unsafe_paths() -> None:
    for path in ("../x", "/abs", "a\\b", "a//b", "manifest.json", "ü.json"):
        with pytest.raises(BundleError):
            _build({path: b"x"})


# --- tampering ---------------------------------------------------------------------------


def test_every_changed_byte_of_a_signed_bundle_is_rejected(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    sig = _sign(bundle, keypairs["production"])
    kinds: set[type[PromptshipError]] = set()
    for i in range(len(bundle.tar)):
        tampered = bytearray(bundle.tar)
        tampered[i] ^= 0x20
        with pytest.raises(PromptshipError) as info:
            b.verify_bundle(bytes(tampered), sig, allowed, environment="production", now=NOW)
        assert isinstance(info.value, BundleError | SignatureError)
        kinds.add(type(info.value))
    assert kinds == {BundleError, SignatureInvalid}


def test_tampered_manifest_member_and_signature(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    sig = _sign(bundle, keypairs["production"])
    at = bundle.tar.index(b'"release":7')
    tampered = bundle.tar[:at] + b'"release":8' + bundle.tar[at + 11 :]
    # without the signature the change is self-consistent except for the header checksum
    with pytest.raises(SignatureInvalid):
        b.verify_bundle(tampered, sig, allowed, environment="production", now=NOW)
    body = bundle.tar.index(b"Hello {{ name }}")
    tampered = bundle.tar[:body] + b"J" + bundle.tar[body + 1 :]
    with pytest.raises(BundleError, match="does not match its sha256"):
        b.verify_bundle(tampered, sig, allowed, environment="production", now=NOW)
    bad_sig = sig.replace(sig.splitlines()[3][:4], "AAAA", 1)
    with pytest.raises(SignatureError):
        b.verify_bundle(bundle.tar, bad_sig, allowed, environment="production", now=NOW)


def test_wrong_environment(keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    both = allowed_signers.parse_allowed_signers(f"*@promptship {pair.public}\n", source="a")
    staging = _build(environment="staging")
    with pytest.raises(BundleError, match="is for environment 'staging', expected 'production'"):
        b.verify_bundle(staging.tar, _sign(staging, pair), both, environment="production", now=NOW)


def test_expired_bundle(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    sig = _sign(bundle, keypairs["production"])
    assert b.verify_bundle(
        bundle.tar, sig, allowed, environment="production", now=EXPIRES - timedelta(seconds=1)
    )
    with pytest.raises(BundleError, match="bundle expired at 2025-05-31T09:30:15Z"):
        b.verify_bundle(bundle.tar, sig, allowed, environment="production", now=EXPIRES)


def test_signature_by_a_key_not_allowed_for_the_environment(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    with pytest.raises(SignatureKeyNotAllowed, match="not allowed to sign for production"):
        b.verify_bundle(
            bundle.tar,
            _sign(bundle, keypairs["staging"]),
            allowed,
            environment="production",
            now=NOW,
        )
    with pytest.raises(SignatureUnknownKey):
        b.verify_bundle(
            bundle.tar,
            _sign(bundle, keypairs["outsider"]),
            allowed,
            environment="production",
            now=NOW,
        )


def test_signature_for_another_purpose_is_refused(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _build()
    sig = sshsig.sign(keypairs["production"].key, bundle.manifest, sshsig.CHANNEL_NAMESPACE)
    with pytest.raises(SignatureError, match="namespace"):
        b.verify_bundle(bundle.tar, sig, allowed, environment="production", now=NOW)


# --- hostile archives, crafted with tarfile -------------------------------------------------


def _info(name: str, data: bytes = b"", **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(CREATED.timestamp())
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _manifest_for(files: dict[str, bytes]) -> bytes:
    return m.encode_manifest(m.build_manifest(files, **ARGS))


def _craft(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """An archive written member by member with tarfile's own header encoder.

    ``fmt`` applies to the last member only, so an extension header can follow
    plain USTAR members.
    """
    out = bytearray()
    for i, (info, data) in enumerate(members):
        member_fmt = fmt if i == len(members) - 1 else tarfile.USTAR_FORMAT
        out += info.tobuf(member_fmt, "utf-8", "surrogateescape")
        if info.isreg():
            out += data + bytes(-len(data) % 512)
    out += bytes(1024)
    out += bytes(-len(out) % 10240)
    return bytes(out)


def _end_of_members(tar: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        last = tf.getmembers()[-1]
    return last.offset_data + last.size + (-last.size % 512)


def _forge_size(tar: bytes, size: int) -> bytes:
    """The archive with its first header claiming ``size`` bytes (checksum fixed up)."""
    header = bytearray(tar[:512])
    header[124:136] = b"%011o\x00" % size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header) + tar[512:]


def _with(extra: tarfile.TarInfo, data: bytes = b"", fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A valid bundle of FILES with one hostile member appended."""
    manifest = _manifest_for(FILES)
    members = [(_info("manifest.json", manifest), manifest)]
    members += [(_info(p, d), d) for p, d in sorted(FILES.items())]
    return _craft([*members, (extra, data)], fmt)


def _sanity() -> None:
    manifest = _manifest_for(FILES)
    members = [(_info("manifest.json", manifest), manifest)]
    members += [(_info(p, d), d) for p, d in sorted(FILES.items())]
    assert b.read_bundle(_craft(members))  # the crafting itself yields valid bundles


HOSTILE: dict[str, tuple[bytes, str]] = {}


def _hostile() -> dict[str, tuple[bytes, str]]:
    if HOSTILE:
        return HOSTILE
    _sanity()
    manifest = _manifest_for(FILES)
    head = [(_info("manifest.json", manifest), manifest)]
    rest = [(_info(p, d), d) for p, d in sorted(FILES.items())]
    evil = b'{"id":"evil"}'
    dup_keys = manifest.replace(b'"release":7', b'"release":7,"release":8')
    noncanon = json.dumps(json.loads(manifest), indent=1, sort_keys=True).encode()
    listed_but_missing = _manifest_for({**FILES, "prompts/zz.json": b"zz"})
    parsed = m.parse_manifest(manifest)
    grown = dataclasses.replace(parsed.files[0], size=parsed.files[0].size + 1)
    wrong_size = m.encode_manifest(dataclasses.replace(parsed, files=(grown, *parsed.files[1:])))
    wrong_hash_files = {**FILES, "index.json": b'{"prompts":["billing/refund","support/triage"]!'}
    wrong_hash = _manifest_for(wrong_hash_files)
    HOSTILE.update(
        {
            "dotdot": (_with(_info("../evil.json", evil), evil), "unsafe path: '..' segment"),
            "dotdot-inner": (
                _with(_info("prompts/../../evil.json", evil), evil),
                "unsafe path: '..' segment",
            ),
            "absolute": (_with(_info("/etc/cron.d/evil", evil), evil), "unsafe path: absolute"),
            "symlink": (
                _with(_info("link", type=tarfile.SYMTYPE, linkname="/etc/passwd")),
                "is a symbolic link",
            ),
            "hardlink": (
                _with(_info("hard", type=tarfile.LNKTYPE, linkname="index.json")),
                "is a hard link",
            ),
            "chardev": (
                _with(_info("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)),
                "is a character device",
            ),
            "blockdev": (
                _with(_info("sda", type=tarfile.BLKTYPE, devmajor=8)),
                "is a block device",
            ),
            "fifo": (_with(_info("pipe", type=tarfile.FIFOTYPE)), "is a FIFO"),
            "directory": (_with(_info("prompts", type=tarfile.DIRTYPE, mode=0o755)), "directory"),
            "pax": (
                _with(
                    _info("p.json", evil, pax_headers={"path": "../x"}), evil, tarfile.PAX_FORMAT
                ),
                "pax extended header",
            ),
            "gnu-longname": (
                _with(_info("x" * 120, evil), evil, tarfile.GNU_FORMAT),
                "GNU long-name header",
            ),
            "gnu-magic": (_with(_info("g.json", evil), evil, tarfile.GNU_FORMAT), "GNU tar"),
            "duplicate": (
                _craft([*head, *rest, rest[0]]),
                "appears twice",
            ),
            "duplicate-manifest": (_craft([*head, *head, *rest]), "appears twice"),
            "not-listed": (_with(_info("zz.json", evil), evil), "not listed in the manifest"),
            "missing": (
                _craft([(_info("manifest.json", listed_but_missing), listed_but_missing), *rest]),
                "listed in the manifest but missing",
            ),
            "manifest-not-first": (_craft([*rest, *head]), "first member must be manifest.json"),
            "empty": (bytes(10240), "not nothing"),
            "noncanonical-manifest": (
                _craft([(_info("manifest.json", noncanon), noncanon), *rest]),
                "not in RFC 8785 canonical form",
            ),
            "duplicate-key-manifest": (
                _craft([(_info("manifest.json", dup_keys), dup_keys), *rest]),
                "has the key 'release' twice",
            ),
            "wrong-size": (
                _craft([(_info("manifest.json", wrong_size), wrong_size), *rest]),
                "bytes; the manifest says",
            ),
            "wrong-hash": (
                _craft([(_info("manifest.json", wrong_hash), wrong_hash), *rest]),
                "does not match its sha256",
            ),
            "mode-0755": (
                _craft([*head, *[(_info(i.name, d, mode=0o755), d) for i, d in rest]]),
                "header field mode differs",
            ),
            "mtime": (
                _craft([*head, *[(_info(i.name, d, mtime=0), d) for i, d in rest]]),
                "header field mtime differs",
            ),
            "owner": (
                _craft([*head, *[(_info(i.name, d, uname="root"), d) for i, d in rest]]),
                "header field uname differs",
            ),
            "unsorted": (_craft([*head, *reversed(rest)]), "order"),
        }
    )
    return HOSTILE


@pytest.mark.parametrize(
    "case",
    [
        "dotdot",
        "dotdot-inner",
        "absolute",
        "symlink",
        "hardlink",
        "chardev",
        "blockdev",
        "fifo",
        "directory",
        "pax",
        "gnu-longname",
        "gnu-magic",
        "duplicate",
        "duplicate-manifest",
        "not-listed",
        "missing",
        "manifest-not-first",
        "empty",
        "noncanonical-manifest",
        "duplicate-key-manifest",
        "wrong-size",
        "wrong-hash",
        "mode-0755",
        "mtime",
        "owner",
        "unsorted",
    ],
)
def test_hostile_archive_is_rejected_with_its_own_message(case: str) -> None:
    data, expected = _hostile()[case]
    with pytest.raises(BundleError) as info:
        b.read_bundle(data)
    assert expected in info.value.message


def test_every_hostile_case_has_a_distinct_message() -> None:
    hostile = _hostile()
    messages = set()
    for data, _ in hostile.values():
        with pytest.raises(BundleError) as info:
            b.read_bundle(data)
        messages.add(info.value.message)
    assert len(messages) == len(hostile)


def test_hostile_archives_fail_before_the_signature_matters(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    """Structural attacks are caught by verify_bundle too, signature or not."""
    data, expected = _hostile()["symlink"]
    sig = _sign(_build(), keypairs["production"])
    with pytest.raises(BundleError, match=expected):
        b.verify_bundle(data, sig, allowed, environment="production", now=NOW)


def test_size_caps_come_first() -> None:
    bundle = _build()
    with pytest.raises(BundleError, match="over the cap"):
        b.read_bundle(bundle.tar, max_bytes=len(bundle.tar) - 1)
    with pytest.raises(BundleError, match="over the per-member cap of 100"):
        b.read_bundle(bundle.tar, max_member_bytes=100)
    with pytest.raises(BundleError, match="more than 2 members"):
        b.read_bundle(bundle.tar, max_members=2)
    biggest = max(len(bundle.manifest), *map(len, FILES.values()))
    assert b.read_bundle(bundle.tar, max_members=4, max_member_bytes=biggest)
    with pytest.raises(BundleError, match="per-member cap"):
        b.read_bundle(bundle.tar, max_member_bytes=biggest - 1)


def test_oversize_member_is_refused_before_its_bytes_are_read() -> None:
    """A header claiming a huge size is refused by the cap, not by a truncated read."""
    with pytest.raises(BundleError, match="over the per-member cap"):
        b.read_bundle(_forge_size(_build().tar, 2**32))


def test_malformed_archives() -> None:
    tar = _build().tar
    end = _end_of_members(tar)
    cases = {
        tar[:end]: "no end-of-archive marker",
        tar[:700]: "not a whole number",
        _forge_size(tar, 10**6): "truncated inside member",
        tar + b"\x01" * 512: "data after the end-of-archive marker",
        tar[: end + 517] + b"\x01" + tar[end + 518 :]: "data after the end-of-archive marker",
        tar[:100] + b"X" + tar[101:]: "bad checksum",
        tar[:148] + b"zzzzzz\x00 " + tar[156:]: "checksum is not an octal",
        tar[:end] + bytes(512): "incomplete end-of-archive",
        tar[:end] + bytes(1024): "end-of-archive blocks or record padding differ",
    }
    for data, expected in cases.items():
        with pytest.raises(BundleError, match=expected):
            b.read_bundle(data)


def test_non_zero_member_padding_is_refused() -> None:
    tar = _build().tar
    manifest_size = len(_build().manifest)
    pad = 512 + manifest_size  # first padding byte after manifest.json
    assert manifest_size % 512
    with pytest.raises(BundleError, match=r"padding after member 'manifest\.json' is not zero"):
        b.read_bundle(tar[:pad] + b"\x01" + tar[pad + 1 :])


def test_an_auditor_verifies_with_tar_ssh_keygen_and_sha256sum(
    tmp_path: Path, keypairs: dict[str, KeyPair], ssh_keygen: str
) -> None:
    """The command lines of docs/bundles.md, "Verifying without promptship"."""
    tar, sha256sum = shutil.which("tar"), shutil.which("sha256sum")
    if tar is None or sha256sum is None:
        pytest.skip("tar or sha256sum missing")
    pair = keypairs["production"]
    bundle = _build()
    hexdigest = bundle.digest.removeprefix("sha256:")
    (tmp_path / f"{hexdigest}.tar").write_bytes(bundle.tar)
    (tmp_path / f"{hexdigest}.tar.sig").write_text(_sign(bundle, pair))
    (tmp_path / "allowed_signers").write_text(f"production@promptship {pair.public}\n")
    (tmp_path / "out").mkdir()
    script = f"""
set -eu
tar -xf {hexdigest}.tar -C out
test "$(sha256sum < out/manifest.json | cut -d' ' -f1)" = {hexdigest}
{ssh_keygen} -Y verify -f allowed_signers -I production@promptship \\
    -n promptship-bundle@v1 -s {hexdigest}.tar.sig < out/manifest.json
"""
    done = subprocess.run(
        ["/bin/sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert 'Good "promptship-bundle@v1" signature for production@promptship' in done.stdout
    manifest = json.loads((tmp_path / "out/manifest.json").read_bytes())
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in manifest["files"])
    checked = subprocess.run(
        [sha256sum, "-c"],
        input=sums,
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    (tmp_path / "out/index.json").write_bytes(b"{}")
    tampered = subprocess.run(
        [sha256sum, "-c"],
        input=sums,
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
        check=False,
    )
    assert tampered.returncode != 0
