"""The ``promptship`` command line: the only module that imports click.

Each command lives in its own module, parses its arguments into values, calls
a typed function of the use-case layer, and reports. Exit codes are decided in
one place, :func:`main`.

May import: every package but :mod:`promptship.client`.
"""

from __future__ import annotations

import io
import sys

import click

from promptship.cli._app import cli
from promptship.core.errors import EXIT_INTERNAL, EXIT_USAGE, PromptshipError
from promptship.core.textsafe import visible

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script's entry point)."""
    try:
        rv = cli.main(args=argv, prog_name="promptship", standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_USAGE
    except click.ClickException as e:
        shown = io.StringIO()
        e.show(file=shown)  # click echoes the arguments given: make them visible
        click.echo(visible(shown.getvalue()), err=True, nl=False)
        return EXIT_USAGE
    except PromptshipError as e:
        click.echo(visible(f"error: {e}"), err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the one place that turns a bug into exit 3
        click.echo(visible(f"internal error: {type(e).__name__}: {e}"), err=True)
        click.echo(
            "This is a bug in promptship; please report it with the command you ran.", err=True
        )
        return EXIT_INTERNAL
    return int(rv or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
