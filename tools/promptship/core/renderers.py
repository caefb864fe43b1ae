"""The renderers a compiled template becomes: under the render budget, errors naming the line.

:class:`BudgetedRenderer` runs Jinja's sandboxed code; :class:`SubsetRenderer`
runs a template of the checked subset compiled to Python
(:mod:`promptship.core.compiled`). Both render under a fresh
:class:`~promptship.core.budget.Budget` of their limits, or pay into the one
bound for a whole prompt, and turn whatever goes wrong into a
:class:`~promptship.core.errors.TemplateError` naming the template line
(:mod:`promptship.core.template_errors`).
Jinja is imported only when an error needs its classes. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from promptship.core.budget import Budget, RenderLimits, bind, bound, unbind
from promptship.core.errors import TemplateError

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


def _render_error(e: BaseException, where: str) -> TemplateError:
    """``e`` as a :class:`TemplateError` naming the template line (imported when a render fails)."""
    from promptship.core.template_errors import render_error

    return render_error(e, where)
