"""The renderers a compiled template becomes: under the render budget, errors naming the line.

:class:`BudgetedRenderer` runs Jinja's sandboxed code; :class:`SubsetRenderer`
runs a template of the checked subset compiled to Python
(:mod:`promptship.core.compiled`). Both render under a fresh
:class:`~promptship.core.budget.Budget` of their limits, or pay into the one
bound for a whole prompt, and turn whatever goes wrong into a
:class:`~promptship.core.errors.TemplateError` naming the template line.
Jinja is imported only when an error needs its classes. Pure.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptship.core.budget import Budget, RenderLimits, bind, bound, unbind
from promptship.core.errors import RenderBudgetError, TemplateError, prefixed

if TYPE_CHECKING:
    import jinja2

__all__ = ["BudgetedRenderer", "SubsetRenderer"]


class BudgetedRenderer:
    """A compiled Jinja template as a function of its inputs, rendering under a budget.

    Called alone, it renders under a fresh :class:`~promptship.core.budget.Budget`
    of its limits; called while a budget is bound (:func:`promptship.core.budget.bind`:
    a prompt binds one for all its messages), it pays into that one.
    """

    __slots__ = ("_max", "_new_context", "_root", "_where", "limits")
    needs_budget = True

    def __init__(self, template: jinja2.Template, limits: RenderLimits, where: str) -> None:
        self._root = template.root_render_func
        self._new_context = template.new_context
        self._where = where
        self._max = limits.max_output_chars
        self.limits = limits

    def __call__(self, inputs: Mapping[str, Any]) -> str:
        """The rendered text.

        Raises:
            TemplateError: Naming the template line (a RenderBudgetError for a limit).
        """
        token = None if bound() is not None else bind(Budget(self.limits))
        try:
            # new_context copies the mapping into a fresh dict of its own (dict(globals, **vars));
            # every piece of the stream was paid for as work (sandbox.budget_concat's reasoning)
            text = "".join(self._root(self._new_context(inputs)))  # type: ignore[arg-type]
            if len(text) > self._max:
                Budget(self.limits).check_size(len(text), "output")
            return text
        except Exception as e:
            raise _render_error(e, self._where) from None
        finally:
            if token is not None:
                unbind(token)


class SubsetRenderer:
    """A template of the checked subset compiled to Python, rendering under a budget.

    The same contract as :class:`BudgetedRenderer` (its budget, its errors), without
    Jinja's runtime (:func:`promptship.core.compiled.compile_subset`). Its
    ``vouched`` is the same template for inputs the prompt's input check returned
    ``True`` for: it reads the fields ``items`` named (:meth:`TemplateEngine.compile`)
    directly, and must be called with no other inputs. When no budget is bound, it
    first tries the template's lean variant (:func:`promptship.core.compiled.compile_lean`),
    which renders without per-step accounting unless a limit would be crossed.
    """

    __slots__ = ("_lean", "_max", "_root", "_vouched", "_where", "lean", "limits", "vouched")
    needs_budget = True

    def __init__(
        self,
        root: Callable[[Mapping[str, Any], bool], list[str]],
        limits: RenderLimits,
        where: str,
        vouched: bool = False,
        lean: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        self._root = root
        self._where = where
        self._max = limits.max_output_chars
        self._vouched = vouched
        self._lean = lean if vouched else None
        self.lean = self._lean
        """The lean variant this renderer tries first (for vouched inputs), or ``None``."""
        self.limits = limits
        self.vouched: SubsetRenderer = (
            self if vouched else SubsetRenderer(root, limits, where, True, lean)
        )

    def __call__(self, inputs: Mapping[str, Any]) -> str:
        """The rendered text.

        Raises:
            TemplateError: Naming the template line (a RenderBudgetError for a limit).
        """
        lean = self._lean
        if lean is not None and bound() is None:  # a render of its own: its budget starts at 0
            try:
                lean_text = lean(inputs)
            except Exception as e:
                raise _render_error(e, self._where) from None
            if lean_text is not None:
                return lean_text  # else the exact code renders, and raises what Jinja's would
        token = None if bound() is not None else bind(Budget(self.limits))
        try:
            text = "".join(self._root(inputs, self._vouched))
            if len(text) > self._max:
                Budget(self.limits).check_size(len(text), "output")
            return text
        except Exception as e:
            raise _render_error(e, self._where) from None
        finally:
            if token is not None:
                unbind(token)


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


def _render_error(e: BaseException, where: str) -> TemplateError:
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
