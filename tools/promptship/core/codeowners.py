"""CODEOWNERS with GitHub's semantics (the last matching line wins), pure.

Parsing is delegated to the maintained ``codeowners`` package; this module
adds the questions promptship asks of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeowners import CodeOwners

__all__ = ["Owners"]


@dataclass(frozen=True)
class Owners:
    """Parsed CODEOWNERS text.

    Args:
        text: The file's contents ("" when the repository has none).
        path: Where it was read from, for messages.
    """

    text: str
    path: str = "CODEOWNERS"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parsed", CodeOwners(self.text))

    def of(self, path: str) -> tuple[str, ...]:
        """Owners of a repository path (``@org/team``, ``@user`` or emails), in file order."""
        parsed: CodeOwners = object.__getattribute__(self, "_parsed")
        return tuple(owner for _kind, owner in parsed.of(path))

    def line_of(self, path: str) -> int | None:
        """The CODEOWNERS line that decides ``path``'s owners, or ``None``."""
        parsed: CodeOwners = object.__getattribute__(self, "_parsed")
        match = parsed.matching_line(path)
        return int(match[1]) if match and match[1] else None

    def decide(self, path: str) -> tuple[tuple[str, ...], int | None]:
        """Owners of ``path`` and the CODEOWNERS line that decides them, in one match."""
        parsed: CodeOwners = object.__getattribute__(self, "_parsed")
        match = parsed.matching_line(path)
        owners = tuple(owner for _kind, owner in match[0]) if match else ()
        return owners, (int(match[1]) if match and match[1] else None)

    @property
    def present(self) -> bool:
        """Whether there is any rule at all."""
        return any(
            line.strip() and not line.lstrip().startswith("#") for line in self.text.splitlines()
        )
