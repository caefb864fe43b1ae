"""promptship: a GitOps prompt registry.

Applications import :class:`PromptClient` (once the client lands); everything
else here serves the ``promptship`` command line.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
