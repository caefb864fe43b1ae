"""A registry's history: semantic diffs, change classes, versions, log and show.

Owns: the pure diff engine over resolved views (:mod:`.diff`, the only
deepdiff importer), its text/markdown/JSON reports (:mod:`.report`), semantic
versions and bump rules (:mod:`.versions`), the two sides of a diff and their
pinned releases (:mod:`.sides`), the prompts a change can reach
(:mod:`.affected`), diffs between two git refs and ``check-versions``
(:mod:`.compare`), ``log``/``show`` (:mod:`.timeline`) and the parse cache
keyed by git blob id (:mod:`.parsecache`).

May import: :mod:`promptship.core`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.schemas`.
"""
