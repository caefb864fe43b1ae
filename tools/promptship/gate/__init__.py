"""The merge gate and promotions: rules, their inputs, reports, release pins.

Owns: the pure decision rules (:mod:`.rules`), gathering their inputs from git
(:mod:`.inputs`), the decision's reports (:mod:`.report`), release pins and
the promotion PR's text (:mod:`.pins`), and planning promotions and
rollbacks (:mod:`.promotion`).

May import: :mod:`promptship.core`, :mod:`promptship.git`,
:mod:`promptship.registry`, :mod:`promptship.history`,
:mod:`promptship.release`, :mod:`promptship.schemas`.
"""
