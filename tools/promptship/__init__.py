"""promptship: a GitOps prompt registry.

Applications need one name: ``from promptship import PromptClient`` (see
``docs/client.md``). It is imported on first use, so ``import promptship``
stays cheap and never pulls in the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptship.client import ClientStatus, Prompt, PromptClient, PromptRef, Rendered, Served

__all__ = [
    "ClientStatus",
    "Prompt",
    "PromptClient",
    "PromptRef",
    "Rendered",
    "Served",
    "__version__",
]

__version__ = "0.1.0"

_CLIENT_NAMES = frozenset(
    {"ClientStatus", "Prompt", "PromptClient", "PromptRef", "Rendered", "Served"}
)


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from promptship import client

        return getattr(client, name)
    raise AttributeError(f"module 'promptship' has no attribute {name!r}")
