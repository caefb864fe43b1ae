"""Publish and read back through an OCI registry, beside the directory store in the same run.

Run: ``pytest -s tests/benchmarks/bench_oci.py`` (needs ``docker-registry``; see
``tests/support/ociregistry.py``). Figures are printed, never asserted. The registry
runs on 127.0.0.1 with file system storage, so the figures are promptship's
and oras's overhead plus the registry's, without a network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ociregistry import LocalRegistry
from promptship.release import allowed_signers, bundle, keys, sshsig
from promptship.release.store import folder as store
from promptship.release.store import oci
from tests.benchmarks.bench_bundle import CREATED, SEED, _files

NOW = CREATED + timedelta(days=1)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@pytest.mark.parametrize("count", [1_000, 10_000])
def test_oci_publish_and_pull(count: int, tmp_path: Path, oci_registry: LocalRegistry) -> None:
    files = _files(count, SEED)
    built = bundle.build_bundle(
        files,
        environment="production",
        release=1,
        source_commit="0" * 40,
        created=CREATED,
        expires=CREATED + timedelta(days=90),
    )
    pem, public = keys.generate_keypair("production@promptship")
    key = keys.load_private_key(pem, source="bench")
    allowed = allowed_signers.parse_allowed_signers(
        f"production@promptship {public}\n", source="bench"
    )
    sig = sshsig.sign(key, built.manifest, sshsig.BUNDLE_NAMESPACE)
    args = {"env": "production", "release": 1, "expiry_days": 7, "allowed": allowed}
    target = oci.parse_target(oci_registry.url(f"bench/n{count}"), plain_http=True)

    t_dir_pub = _timed(lambda: store.publish(tmp_path, built, sig, key, now=NOW, **args))
    t_dir_read = _timed(lambda: store.open_channel_bundle(tmp_path, "production", allowed, now=NOW))
    t_oci_first = _timed(lambda: oci.publish(target, built, sig, key, now=NOW, **args))
    later = NOW + timedelta(minutes=1)
    t_oci_again = _timed(lambda: oci.publish(target, built, sig, key, now=later, **args))
    t_oci_read = _timed(lambda: oci.open_channel_bundle(target, "production", allowed, now=later))
    t_verify = _timed(
        lambda: bundle.verify_bundle(built.tar, sig, allowed, environment="production", now=NOW)
    )
    print(
        f"\n[oci] {count:>6} files, bundle {len(built.tar) / 1e6:.1f} MB "
        f"(at {datetime.now(UTC):%Y-%m-%d})\n"
        f"  baseline verify_bundle alone        {t_verify:7.3f} s\n"
        f"  directory store: publish {t_dir_pub:7.3f} s, open channel+bundle {t_dir_read:7.3f} s\n"
        f"  OCI registry:    publish {t_oci_first:7.3f} s (first), {t_oci_again:7.3f} s "
        f"(bundle already there), open channel+bundle {t_oci_read:7.3f} s"
    )
