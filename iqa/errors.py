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
