"""The one error hierarchy of promptship.

Every failure a user can cause or meet is a :class:`PromptshipError`. Each
carries the process exit code the CLI's single handler uses (0 ok, 1 findings
or a denied gate, 2 usage, 3 internal). Exceptions never print; the CLI does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "AttestationEnvironmentMismatch",
    "AttestationError",
    "AttestationMalformed",
    "AttestationSubjectMismatch",
    "BundleError",
    "ChannelError",
    "EvalError",
    "FileWriteError",
    "GitError",
    "InputError",
    "TargetError",
    "KeyFileError",
    "Location",
    "PromptshipError",
    "ProviderError",
    "RenderBudgetError",
    "SignatureError",
    "SignatureInvalid",
    "SignatureKeyNotAllowed",
    "SignatureMalformed",
    "SignatureNamespaceMismatch",
    "SignatureUnknownKey",
    "SinkError",
    "StoreError",
    "TemplateError",
    "UsageError",
    "ValidationFailed",
    "YamlError",
    "prefixed",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file: 1-based line and column."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class PromptshipError(Exception):
    """Root of every error promptship raises on purpose.

    Args:
        message: What went wrong, one sentence.
        hint: What to do about it.
        location: Where, when it is a place in a file.
    """

    exit_code: int = EXIT_FINDINGS

    def __init__(
        self, message: str, *, hint: str | None = None, location: Location | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(PromptshipError):
    """Bad arguments: an unknown prompt id, a missing file, a bad ref."""

    exit_code = EXIT_USAGE


class FileWriteError(UsageError):
    """A file cannot be written: a missing folder, no permission, no space, a folder in the way."""


class YamlError(PromptshipError):
    """A YAML file breaks the loading rules (syntax, duplicates, aliases, tags, size)."""


class ValidationFailed(PromptshipError):
    """Validation produced findings; raised where a clean registry is required."""


class TemplateError(PromptshipError):
    """A template does not compile, escapes the sandbox, or fails to render."""


class RenderBudgetError(TemplateError):
    """A render went over its budget: output size, loop iterations, recursion or include depth, work.

    Args:
        message: Which limit, by how much, and (once known) the prompt and template line.
        limit: The ``policy.render_budget`` key of the limit (``max_output_chars`` …).
        hint: What to do about it.
        location: Where, when it is a place in a file.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        hint: str | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message, hint=hint, location=location)
        self.limit = limit


def prefixed(e: TemplateError, prefix: str) -> TemplateError:
    """``e`` (same class, limit and hint) with its message starting ``PREFIX: ``."""
    err = type(e).__new__(type(e))
    err.__dict__.update(e.__dict__)
    err.message = f"{prefix}: {e.message}"
    err.args = (err.message,)
    return err


class InputError(PromptshipError):
    """Render inputs do not satisfy the prompt's ``inputs`` schema.

    Attributes:
        problems: Each problem on its own (``core.inputs.InputProblem``), when known.
    """

    problems: tuple[Any, ...] = ()


class TargetError(PromptshipError):
    """A rendered prompt cannot be expressed in a model API's request body.

    A parameter the API does not have, a value outside its range, a media type or
    feature it has no field for: an error, never a field silently dropped.
    """


class GitError(UsageError):
    """A git repository, ref or object cannot be read."""


class BundleError(PromptshipError):
    """A bundle is malformed, tampered with, or does not match its manifest."""


class SignatureError(PromptshipError):
    """A signature is missing, malformed, or not by an allowed signer."""


class SignatureMalformed(SignatureError):
    """A signature's armor, encoding, magic, version or fields are not valid SSHSIG."""


class SignatureNamespaceMismatch(SignatureError):
    """A signature was made for another namespace (another purpose) than the one expected."""


class SignatureUnknownKey(SignatureError):
    """A signature was made by a key that no line of the allowed signers lists."""


class SignatureKeyNotAllowed(SignatureError):
    """A listed key signed, but is not allowed for this principal, namespace or time."""


class SignatureInvalid(SignatureError):
    """A signature does not match the signed bytes: the message or signature was altered."""


class KeyFileError(UsageError):
    """A private signing key cannot be loaded (wrong format, encrypted, wrong type)."""


class ChannelError(PromptshipError):
    """A channel pointer is expired, replayed, for another environment, or inconsistent."""


class StoreError(PromptshipError):
    """A bundle store cannot be read or written."""


class SinkError(PromptshipError):
    """An event sink cannot be opened, written or closed, or its extra is not installed."""


class ProviderError(PromptshipError):
    """A model provider failed or answered something unusable."""


class EvalError(PromptshipError):
    """An eval suite or assertion cannot be run as written (unknown type, bad option)."""


class AttestationError(PromptshipError):
    """An eval attestation cannot be used: malformed, or about something else."""


class AttestationMalformed(AttestationError):
    """An attestation is not a DSSE envelope holding an in-toto statement of promptship evals."""


class AttestationSubjectMismatch(AttestationError):
    """An attestation is about another bundle than the one it is checked for."""


class AttestationEnvironmentMismatch(AttestationError):
    """An attestation records evals in another environment than the one it is checked for."""
