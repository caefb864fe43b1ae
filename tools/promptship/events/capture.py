"""Which model responses an outcome event may carry: opt-in, sampled, capped, pure.

A response is personal data as much as the inputs are, so nothing is captured
unless the application asks: :class:`ResponseCapture` names the rate, the
prompts and the size cap. The sample is drawn from the request id (a hash, not
a random number generator), so one request is captured or not wherever the
decision is made, and a rerun of the same log decides the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from promptship.core.errors import UsageError

__all__ = ["ResponseCapture"]

_BUCKETS = 1 << 64


@dataclass(frozen=True, slots=True)
class ResponseCapture:
    """Which responses go into outcome events (redacted like inputs, then cut).

    Attributes:
        rate: Share of requests whose response is kept, from 0 to 1.
        max_chars: Characters of a response kept (the rest is cut with a marker).
        prompts: Prompt ids whose responses are kept; ``None``: every prompt. A
            request known only by its id (no ref) counts as any prompt.
        edited_text: Whether a feedback event may carry the text the person kept
            (redacted and cut like the response); by default only its distance.

    Raises:
        UsageError: ``rate`` outside ``[0, 1]`` or ``max_chars`` below 1.
    """

    rate: float = 1.0
    max_chars: int = 4096
    prompts: frozenset[str] | None = None
    edited_text: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not 0.0 <= self.rate <= 1.0:
            raise UsageError(f"capture rate must be between 0 and 1, not {self.rate!r}")
        if isinstance(self.max_chars, bool) or self.max_chars < 1:
            raise UsageError(f"capture max_chars must be at least 1, not {self.max_chars!r}")

    def keeps(self, request_id: str, prompt_id: str | None = None) -> bool:
        """Whether the response of ``request_id`` (of ``prompt_id``, when known) is kept."""
        if self.prompts is not None and prompt_id is not None and prompt_id not in self.prompts:
            return False
        if self.rate >= 1.0:
            return True
        if self.rate <= 0.0:
            return False
        digest = hashlib.blake2b(request_id.encode("utf-8", "surrogatepass"), digest_size=8)
        return int.from_bytes(digest.digest(), "big") < self.rate * _BUCKETS
