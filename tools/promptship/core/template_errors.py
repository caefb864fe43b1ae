"""What went wrong while rendering a template, as a :class:`TemplateError` naming its line; pure.

:class:`~promptship.core.renderers.BudgetedRenderer` and
:class:`~promptship.core.renderers.SubsetRenderer` turn whatever a render raised
into one of these (imported when a render fails).
"""

from __future__ import annotations

import types

from promptship.core.errors import RenderBudgetError, TemplateError, prefixed

__all__ = ["render_error"]


def _template_line(tb: types.TracebackType | None) -> str:
    """``template line N`` (or ``fragment 'NAME' line N``) of the innermost template frame."""
    found = ""
    while tb is not None:
        lines = tb.tb_frame.f_globals.get("__ps_lines__")
        if lines is not None:  # a template compiled to Python (core.compiled)
            fragment, line = lines(tb.tb_lineno)
            found = f"fragment '{fragment}' line {line}" if fragment else f"template line {line}"
        owner = tb.tb_frame.f_globals.get("__jinja_template__")
        if owner is not None:
            line = owner.get_corresponding_lineno(tb.tb_lineno)
            found = (
                f"fragment '{owner.name}' line {line}" if owner.name else f"template line {line}"
            )
        tb = tb.tb_next
    return found or "template"


def render_error(e: BaseException, where: str) -> TemplateError:
    """``e``, raised while rendering the template ``where`` names, as a :class:`TemplateError`."""
    import jinja2

    at = f"{where}{_template_line(e.__traceback__)}"
    if isinstance(e, TemplateError):
        return prefixed(e, at)
    if isinstance(e, jinja2.UndefinedError):
        return TemplateError(f"{at}: template uses an undefined value: {e.message}")
    if isinstance(e, jinja2.TemplateNotFound):
        return TemplateError(f"{at}: unknown fragment '{e.name}'")
    if isinstance(e, jinja2.exceptions.SecurityError):
        return TemplateError(f"{at}: refused by the sandbox: {e}")
    if isinstance(e, jinja2.TemplateError):
        return TemplateError(f"{at}: template error: {e}")
    if isinstance(e, RecursionError):
        return RenderBudgetError(
            f"{at}: render budget exceeded: nesting too deep (a deeply nested value or call)",
            limit="max_recursion_depth",
            hint="flatten the input or the template",
        )
    if isinstance(e, MemoryError):
        return RenderBudgetError(
            f"{at}: render budget exceeded: out of memory", limit="max_output_chars"
        )
    text = str(e)
    text = text if len(text) <= 200 else text[:199] + "…"
    return TemplateError(f"{at}: template failed: {type(e).__name__}: {text}")
