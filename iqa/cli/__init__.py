"""The ``iqa`` command: a click group whose subcommands are imported only when used.

Exit codes: 0 success; 1 a quality gate failed; 2 a usage or input error
(one line on stderr, no traceback); 3 an internal error (a bug: the traceback is shown
with ``IQA_DEBUG=1``); 130 interrupted.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback

import click

from iqa import __version__
from iqa.errors import EXIT_INTERNAL, IQAError

_COMMANDS = {
    "bdrate": "iqa.cli.bdrate",
    "compare": "iqa.cli.compare",
    "fid": "iqa.cli.fid",
    "metrics": "iqa.cli.metrics",
    "weights": "iqa.cli.weights",
}

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 a quality gate failed, 2 usage or input error, "
    "3 internal error, 130 interrupted."
)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, m in _COMMANDS.items() if importlib.util.find_spec(m))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = _COMMANDS.get(name)
        if module is None or importlib.util.find_spec(module) is None:
            return None
        return getattr(importlib.import_module(module), name.replace("-", "_"))


@click.group(
    cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="iqa")
def cli() -> None:
    """Image quality metrics that equal the reference implementations."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the group and turns errors into one line + exit code."""
    try:
        code = cli.main(args=argv, prog_name="iqa", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("iqa: interrupted", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except IQAError as exc:
        click.echo(f"iqa: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("iqa: interrupted", err=True)
        code = 130
    except BrokenPipeError:  # `iqa ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        code = 0
    except Exception as exc:  # a bug: never let it look like "gate failed" (exit 1)
        if os.environ.get("IQA_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"iqa: internal error ({type(exc).__name__}: {exc}); "
            "rerun with IQA_DEBUG=1 for the traceback and please report it",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)
