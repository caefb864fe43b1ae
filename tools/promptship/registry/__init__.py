"""A registry read from a snapshot: YAML files, their checks and their views.

Owns: strict YAML loading with positions (:mod:`.yamlio`, the only ruamel
importer), the working tree as a snapshot (:mod:`.files`), loading and
classifying a registry's files and the ``explain``/``new`` use cases
(:mod:`.load`), the ``validate`` use case (:mod:`.validate_run`), and the
checks ``validate`` runs (:mod:`.checks`, pure).

May import: :mod:`promptship.core`, :mod:`promptship.schemas`, :mod:`promptship.fs`,
:mod:`promptship.assertions`.
"""

from promptship.registry.checks._templates import locate_template_error
from promptship.registry.load import (
    CODEOWNERS_PATHS,
    classify,
    compiled_view,
    create_prompt,
    explain,
    load_files,
    render_limits,
    scaffold,
)
from promptship.registry.validate_run import validate

__all__ = [
    "CODEOWNERS_PATHS",
    "classify",
    "compiled_view",
    "create_prompt",
    "explain",
    "load_files",
    "locate_template_error",
    "render_limits",
    "scaffold",
    "validate",
]
