"""Which promptship is running: the pin ``init`` writes by default (PEP 610's ``direct_url.json``)."""

from __future__ import annotations

import json
from importlib import metadata

from promptship.adopt.scaffold import Pin

__all__ = ["installed_pin"]


def installed_pin() -> Pin | None:
    """The git source and commit the running promptship was installed from, if pip recorded one.

    ``pip install "promptship @ git+URL@COMMIT"`` records both; an install by
    ``install.sh`` (a source tree behind a command), an editable or an index
    install records no commit (then ``init`` needs ``--tool-source`` and
    ``--tool-commit``).
    """
    try:
        text = metadata.distribution("promptship").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    vcs = data.get("vcs_info") if isinstance(data, dict) else None
    if (
        not isinstance(vcs, dict)
        or vcs.get("vcs") != "git"
        or not isinstance(vcs.get("commit_id"), str)
    ):
        return None
    return Pin(str(data.get("url", "")), vcs["commit_id"])
