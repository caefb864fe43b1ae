"""Releases: manifests, bundles, signatures, channels, stores and attestations.

Owns: canonical JSON and strict JSON reading (:mod:`.canonical`), the manifest and
channel formats (:mod:`.manifest`), the bundle format
(:mod:`.bundle`), the bundle's documents, written and read strictly
(:mod:`.document`), verifying channels and the bundles they name (:mod:`.channel`,
for every backend and the client), building a bundle from a registry at a commit
(:mod:`.build`), bundles as files on disk (:mod:`.bundle_file`), publishing a
release (:mod:`.publish`), SSHSIG signatures over bytes (:mod:`.sshsig`), keys and
allowed-signers files on disk and in the environment (:mod:`.keys`), allowed-signers
parsing (:mod:`.allowed_signers`), DSSE eval attestations (:mod:`.attestation`)
and the stores bundles are published to (:mod:`.store`).

May import: :mod:`promptship.core`, :mod:`promptship.fs`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.schemas`.
"""
