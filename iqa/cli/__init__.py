"""The ``iqa`` command: a click group whose subcommands are imported only when used.

Exit codes: 0 success; 1 a quality gate failed; 2 a usage or input error
(one line on stderr, no traceback); 3 an internal error (a bug: the traceback is shown
with ``IQA_DEBUG=1``); 130 interrupted (Ctrl-C); 141 stdout (or an output pipe) was
closed by its reader before the report was written, as for a process killed by SIGPIPE;
143 terminated by SIGTERM. SIGTERM takes the same path as Ctrl-C, so every temporary
file (``.NAME.XXXXXX.part`` of reports and downloads) is removed before exiting.

click's own usage errors (an unknown option, a missing argument, a value out of range)
are one line too, ``iqa: <click's message> (run `iqa COMMAND --help` for usage)``,
instead of click's four-line "Usage: ... Try ... Error: ..." block; ``--help`` and a
group called without a command still print the help.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import sys
import traceback

import click

from iqa import __version__
from iqa.errors import EXIT_INTERNAL, IQAError, OutputError

_COMMANDS = {
    "bdrate": "iqa.cli.bdrate",
    "cache": "iqa.cli.cache",
    "compare": "iqa.cli.compare",
    "fid": "iqa.cli.fid",
    "metrics": "iqa.cli.metrics",
    "stats": "iqa.cli.stats",
    "weights": "iqa.cli.weights",
}

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 a quality gate failed, 2 usage or input error, "
    "3 internal error, 130 interrupted, 141 output closed early, 143 terminated (SIGTERM)."
)

#: ``ctx.meta`` key: callables that get the message of the :class:`IQAError` ending the
#: command (so a JUnit report shows an error met before the command's own guard).
ON_ERROR = "iqa.on_error"

EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`
EXIT_TERMINATED = 143  # 128 + SIGTERM


class OutputClosed(Exception):
    """The reader of stdout or of an output pipe went away (EPIPE).

    Not an ``OSError``, so that click does not turn it into exit code 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that cleanup runs as for Ctrl-C."""


class _Stopped(Exception):
    """Ctrl-C or SIGTERM, carried past click (which would print a blank line first)."""

    def __init__(self, terminated: bool) -> None:
        super().__init__("terminated" if terminated else "interrupted")
        self.terminated = terminated


def _on_sigterm(signum: int, frame: object) -> None:
    # Once: a second SIGTERM must not interrupt the cleanup the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _cancel_downloads()
    raise Terminated()


def _cancel_downloads() -> None:
    """Stop downloads running in worker threads, so their partial files are removed now
    (looked up, never imported: a run that downloads nothing has nothing to stop)."""
    module = sys.modules.get("iqa.weights._download")
    if module is not None:
        module.cancel_downloads()


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, m in _COMMANDS.items() if importlib.util.find_spec(m))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = _COMMANDS.get(name)
        if module is None or importlib.util.find_spec(module) is None:
            return None
        return getattr(importlib.import_module(module), name.replace("-", "_"))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise OutputClosed() from exc
        except KeyboardInterrupt as exc:
            raise _Stopped(isinstance(exc, Terminated)) from exc
        except SystemExit as exc:
            # A library's own broken-pipe exit (rich's Console.on_broken_pipe: exit 1, the
            # code of a failed gate); iqa's consoles raise BrokenPipeError instead.
            if isinstance(exc.__context__, BrokenPipeError):
                raise OutputClosed() from exc
            raise
        except IQAError as exc:
            for report in ctx.meta.get(ON_ERROR, ()):
                report(str(exc))
            raise


@click.group(
    cls=LazyGroup, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="iqa")
def cli() -> None:
    """Image quality metrics that equal the reference implementations."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the group and turns errors into one line + exit code."""
    from iqa.output.files import stdout_stream
    from iqa.output.values import one_line

    previous = _install_sigterm()
    # Every write to stdout (click.echo, rich, the writers) turns a full disk into the
    # one-line OutputError; the last flush is made here, where its error is handled.
    real_stdout = sys.stdout
    if real_stdout is not None:
        sys.stdout = stdout_stream(real_stdout)
    from iqa.cli import _early_junit

    args = list(sys.argv[1:] if argv is None else argv)
    junit = _early_junit.target(args)
    message = None
    try:
        if not _asks_for_help(sys.argv[1:] if argv is None else argv):
            from iqa.environment import check

            check()  # every variable's bad value is one line before any work
        code = cli.main(args=argv, prog_name="iqa", standalone_mode=False)
        if sys.stdout is not None:
            sys.stdout.flush()
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except (_Stopped, click.exceptions.Abort, KeyboardInterrupt) as exc:
        code = _interrupted(exc)
    except click.exceptions.NoArgsIsHelpError as exc:  # `iqa weights`: the help, as asked
        exc.show()
        code = exc.exit_code
    except click.UsageError as exc:
        message = _usage_line(exc)
        _echo_err(message)
        code = exc.exit_code
    except click.ClickException as exc:
        message = f"iqa: {one_line(exc.format_message())}"
        _echo_err(message)
        code = exc.exit_code
    except IQAError as exc:
        if isinstance(exc, OutputError) and exc.stdout:
            _silence_stdout()  # what stdout still buffers cannot fail at exit again
        message = f"iqa: {one_line(str(exc))}"
        click.echo(message, err=True)
        code = exc.exit_code
    except (OutputClosed, BrokenPipeError):  # `iqa ... | head`: the reader left
        _silence_stdout()
        code = EXIT_PIPE_CLOSED
    except Exception as exc:  # a bug: never let it look like "gate failed" (exit 1)
        if os.environ.get("IQA_DEBUG"):
            traceback.print_exc()
        message = (f"iqa: internal error ({type(exc).__name__}: {one_line(str(exc))}); "
                   "rerun with IQA_DEBUG=1 for the traceback and please report it")
        click.echo(message, err=True)
        code = EXIT_INTERNAL
    finally:
        sys.stdout = real_stdout
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if message is not None:  # an error the command may not have reported in its JUnit file
        _early_junit.report(junit, args, message.removeprefix("iqa: "))
    sys.exit(code if isinstance(code, int) else 0)


def _asks_for_help(args: list[str]) -> bool:
    """``--help``, ``-h``, ``--version`` or no command: shown whatever the environment."""
    return not args or any(a in ("--help", "-h", "--version") for a in args)


def _usage_line(exc: click.UsageError) -> str:
    """click's usage error as the tool's one line, with the command to read the usage."""
    from iqa.output.values import one_line

    command = exc.ctx.command_path if exc.ctx is not None else "iqa"
    return f"iqa: {one_line(exc.format_message())} (run `{command} --help` for usage)"


def _install_sigterm():
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the old handler."""
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _interrupted(exc: BaseException) -> int:
    if isinstance(exc, _Stopped):
        terminated = exc.terminated
    else:
        terminated = isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated)
    if terminated:
        _echo_err("iqa: terminated (SIGTERM)")
        return EXIT_TERMINATED
    _echo_err("iqa: interrupted")
    return EXIT_INTERRUPTED


def _echo_err(line: str) -> None:
    try:
        click.echo(line, err=True)
    except OSError:  # stderr gone too
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
