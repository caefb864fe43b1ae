"""Publishing a release: build an environment's bundle from git, sign it, store it, move its channel.

The use case behind ``promptship publish``, callable without the command line:
the bundle is built from the registry at the source commit (a pinned
environment must rebuild to its pin), signed with the environment's key, and
handed with the channel's lifetime (the policy at the source commit, read by
the build) to the store, which checks everything before it writes and writes
the channel last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from promptship.git import GitRepo
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.build import Built, build_from_git, check_pin
from promptship.release.channel import Channel
from promptship.release.sshsig import BUNDLE_NAMESPACE, SigningKey, sign
from promptship.release.store import Store, publish

__all__ = ["Published", "publish_release"]


@dataclass(frozen=True)
class Published:
    """What a publish did.

    Attributes:
        built: The bundle, and the plan and policy that decided it.
        signature: The armored signature over its manifest.
        channel: The new channel pointer, as stored.
    """

    built: Built
    signature: str
    channel: Channel


def publish_release(
    repo: GitRepo,
    env: str,
    store: Store,
    *,
    key: SigningKey,
    allowed: AllowedSigners,
    now: datetime,
    ref: str = "HEAD",
) -> Published:
    """Build, sign and store ``env``'s bundle for ``ref``, then point ``env``'s channel at it.

    Args:
        repo: The registry's repository.
        env: The environment to publish.
        store: Where (see :func:`promptship.release.store.open_store`).
        key: The environment's signing key (bundle and channel).
        allowed: The allowed signers the bundle, the current channel and the new one
            must verify with before anything is written.
        now: The publication time.
        ref: The commit to build (a pinned environment builds its release).

    Raises:
        ValidationFailed: The registry at the source commit has errors.
        BundleError: A pinned environment's rebuild does not match its pin, or the
            bundle does not verify for ``env``.
        SignatureError: ``key`` is not allowed to sign for ``env``.
        ChannelError: The current channel cannot be verified.
        StoreError: The store cannot be read or written; the previous channel stays.
    """
    built = build_from_git(repo, env, ref)
    check_pin(built)
    signature = sign(key, built.bundle.manifest, BUNDLE_NAMESPACE)
    channel = publish(
        store,
        built.bundle,
        signature,
        key,
        env=env,
        release=built.plan.number,
        now=now,
        expiry_days=built.channel_expiry_days,
        allowed=allowed,
    )
    return Published(built, signature, channel)
