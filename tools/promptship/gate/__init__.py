"""The merge gate and promotions: rules, their inputs, reports, release pins.

Owns: the pure decision rules (:mod:`.rules`), gathering their inputs from git
(:mod:`.inputs`), the decision's reports (:mod:`.report`), release pins and
the promotion PR's text (:mod:`.pins`), planning promotions and
rollbacks (:mod:`.promotion`), and the commands' use cases: ``gate`` and
``owners required`` (:mod:`.check`), ``promote``, ``rollback`` and ``pins``
(:mod:`.promote`).

May import: :mod:`promptship.core`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.history`,
:mod:`promptship.release`, :mod:`promptship.schemas`, :mod:`promptship.fs`.
"""
