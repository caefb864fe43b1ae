"""Bundle build and verify speed and size, beside baselines measured in the same run.

Run: ``pytest -s tests/benchmarks`` (or ``python3 scripts/dev.py bench``).
Targets (DESIGN §5/§6): build 10,000 files in under 15 s, verify in under 1 s.
Figures are printed, never asserted.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from promptship.release import allowed_signers, bundle, keys, sshsig

CREATED = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
SEED = 20250501
WORDS = ("the", "customer", "ticket", "invoice", "refund", "please", "summarise", "reply")


def _files(count: int, seed: int) -> dict[str, bytes]:
    """``count`` prompt-like JSON documents of about 2 KB each."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(260))
        doc = {
            "id": f"ns{i % 50}/prompt{i}",
            "version": f"1.{i % 7}.0",
            "model": {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2},
            "messages": [
                {"id": "system", "role": "system", "content": text[:900]},
                {"id": "user", "role": "user", "content": text[900:1800] + " {{ ticket }}"},
            ],
        }
        files[f"prompts/ns{i % 50}/prompt{i}.json"] = json.dumps(doc, sort_keys=True).encode()
    return files


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _tarfile_baseline(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mtime = int(CREATED.timestamp())
            tf.addfile(info, io.BytesIO(files[path]))
    return buf.getvalue()


@pytest.mark.parametrize("count", [1_000, 10_000])
def test_bundle_build_and_verify(count: int) -> None:
    files = _files(count, SEED)
    payload = sum(map(len, files.values()))
    pem, public = keys.generate_keypair("production@promptship")
    key = keys.load_private_key(pem, source="bench")
    allowed = allowed_signers.parse_allowed_signers(
        f"production@promptship {public}\n", source="bench"
    )
    repeat = 3 if count <= 1_000 else 2

    t_hash, _ = _best(lambda: [hashlib.sha256(d).digest() for d in files.values()], repeat)
    t_tar, base = _best(lambda: _tarfile_baseline(files), repeat)

    def build() -> bundle.Bundle:
        return bundle.build_bundle(
            files,
            environment="production",
            release=1,
            source_commit="a" * 40,
            created=CREATED,
            expires=CREATED + timedelta(days=30),
        )

    t_build, built = _best(build, repeat)
    assert isinstance(built, bundle.Bundle)
    t_sign, sig = _best(lambda: sshsig.sign(key, built.manifest, sshsig.BUNDLE_NAMESPACE), repeat)
    assert isinstance(sig, str)
    t_read, _ = _best(lambda: bundle.read_bundle(built.tar), repeat)
    t_verify, verified = _best(
        lambda: bundle.verify_bundle(
            built.tar, sig, allowed, environment="production", now=CREATED + timedelta(days=1)
        ),
        repeat,
    )
    assert isinstance(verified, bundle.VerifiedBundle)
    assert dict(verified.files) == files
    assert isinstance(base, bytes)

    rows = [
        ("sha256 of every file (baseline)", t_hash, ""),
        ("tarfile USTAR write (baseline)", t_tar, f"{len(base) / 1e6:.2f} MB"),
        ("build_bundle", t_build, f"{len(built.tar) / 1e6:.2f} MB"),
        ("sign manifest", t_sign, f"manifest {len(built.manifest) / 1e3:.0f} kB"),
        ("read_bundle (no signature)", t_read, ""),
        ("verify_bundle", t_verify, "target < 1 s"),
    ]
    print(f"\n{count:,} files, {payload / 1e6:.2f} MB of content (best of {repeat})")
    print(f"  {'step':34} {'seconds':>9}  note")
    for name, seconds, note in rows:
        print(f"  {name:34} {seconds:9.4f}  {note}")
    print(f"  build target < 15 s; build / tarfile baseline = {t_build / t_tar:.2f}x")
