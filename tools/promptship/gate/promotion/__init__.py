"""Promotions and rollbacks of pinned environments.

:mod:`.pins` reads release pins and writes the promotion PR's text (pure);
:mod:`.plan` plans a pin (next number, source commit, digest); :mod:`.actions`
are the ``promote``, ``rollback`` and ``pins`` use cases (plan, rewrite the
environment file, describe the PR, list pins with their evidence).
"""
