"""The merge gate and promotions: rules, their inputs, reports, release pins.

Owns: the pure decision rules (:mod:`.rules`), gathering their inputs from git
(:mod:`.inputs`), the decision's reports (:mod:`.report`), the use cases of
``gate`` and ``owners required`` (:mod:`.check`), and promotions
(:mod:`.promotion`): release pins and the promotion PR's text
(``promotion.pins``), release history and chains (``promotion.chain``),
planning promotions and rollbacks (``promotion.plan``), the ``promote``,
``rollback`` and ``pins`` use cases (``promotion.actions``), and git's pins
against the store's channels (``promotion.drift``, ``promotion.status``:
``promptship status``).

May import: :mod:`promptship.core`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.history`,
:mod:`promptship.release`, :mod:`promptship.schemas`, :mod:`promptship.fs`.
"""
