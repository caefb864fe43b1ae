"""Adopting promptship in a registry repository of one's own: ``init`` and ``doctor``.

Owns: scaffolding a registry repository whose workflows install one pinned
promptship (:mod:`.scaffold`, with the files it writes under ``templates/``),
the pin the running tool was installed from (:mod:`.pin`), and checking a
registry repository's readiness (:mod:`.doctor`).

May import: :mod:`promptship.core`, :mod:`promptship.fs`, :mod:`promptship.git`,
:mod:`promptship.schemas`, :mod:`promptship.registry`, :mod:`promptship.release`.
"""
