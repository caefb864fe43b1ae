"""Adopting promptship in a registry repository of one's own: ``init`` and ``doctor``.

Owns: scaffolding a registry repository whose workflows install one pinned
promptship with the tool's composite action at one commit (:mod:`.scaffold`,
with the files it writes under ``templates/``), the pin of a promptship
pip-installed from git (:mod:`.pin`), and checking a registry repository's
readiness (:mod:`.doctor`).

May import: :mod:`promptship.core`, :mod:`promptship.fs`, :mod:`promptship.git`,
:mod:`promptship.schemas`, :mod:`promptship.registry`, :mod:`promptship.release`.
"""
