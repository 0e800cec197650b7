"""Errors that reach the user as one line and a documented exit code.

Every problem caused by the user's input (a file, a folder, an option, a missing
weights file) is an :class:`IQAError`. The command line prints ``iqa: <message>``
on stderr and exits with :attr:`IQAError.exit_code`; nothing else prints a
traceback for these.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3


class IQAError(Exception):
    """Base class: a message meant for the user, and the exit code to use."""

    exit_code: int = EXIT_INPUT


class UsageError(IQAError):
    """An option or argument that cannot work (unknown metric, bad value)."""


class OutputError(UsageError):
    """A report, map or stdout that cannot be written (disk full, read-only, a loop of
    symbolic links). ``stdout`` says it was standard output, which the command line then
    points at ``/dev/null`` so that the interpreter's last flush cannot fail again."""

    def __init__(self, message: str, *, stdout: bool = False) -> None:
        super().__init__(message)
        self.stdout = stdout


class InputError(IQAError):
    """An input file or folder that cannot be used (missing, corrupt, wrong size)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ImageSizeError(InputError):
    """Two images that must match do not, or an image is too small for a metric."""


class WeightsError(IQAError):
    """Network weights are missing, fail verification, or cannot be loaded."""


class PluginError(IQAError):
    """A metric plugin that is registered but cannot be loaded."""


# Mistakes in Python API arguments: IQAErrors that are also the built-in exception
# a caller would expect, so `except ValueError` / `except TypeError` keeps working.


class InvalidArgument(UsageError, ValueError):
    """An argument with a value that cannot work (shape, range, NaN pixels)."""


class InvalidType(UsageError, TypeError):
    """An argument of a type that cannot work (bool or complex pixels, a string range)."""


class InvalidImageSize(ImageSizeError, ValueError):
    """Two images of different sizes, or an image too small for the metric."""


class InvalidImage(InputError, ValueError):
    """An image a metric cannot score (e.g. a channel count it does not define)."""
