"""Options and helpers shared by the commands: output, device, progress, stderr lines."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import click

from iqa.output import FORMATS

#: Report formats named by -o's suffix when --format is not given.
_SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def report_format(fmt: str, output: str | None, choices: Sequence[str]) -> str:
    """The format of the report: ``--format`` when given; else the one ``-o``'s suffix
    names (``scores.csv`` is CSV, ``r.json`` JSON, ``r.jsonl`` JSON Lines) if the command
    offers it; else ``fmt`` (the table). A ``--format`` that contradicts the suffix is
    kept, with a warning."""
    from pathlib import Path

    named = None
    if output not in (None, "-"):
        named = _SUFFIX_FORMATS.get(Path(str(output)).suffix.lower())
    if named not in choices:
        named = None
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("fmt") if ctx is not None else None
    given = source not in (None, click.core.ParameterSource.DEFAULT,
                           click.core.ParameterSource.DEFAULT_MAP)
    if not given:
        return named or fmt
    if named is not None and named != fmt:
        warn(f"-o {output}: written as {fmt}, as --format asks, although its suffix "
             f"names {named}")
    return fmt


def output_options(fn: Callable) -> Callable:
    fn = click.option(
        "-o", "--output", "output", type=click.Path(readable=False),
        default=None,
        help="Write results to FILE instead of stdout. A regular file is replaced "
        "atomically (a temporary file renamed at the end, its mode kept); a link is "
        "followed; a device, pipe or /dev/fd/N is written directly. FILE must not be "
        "one of the inputs.",
    )(fn)
    fn = click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
        help="table (rich, for people), csv, json (one object), jsonl (one object per "
        "result as it is scored, then a summary line). Without it, -o FILE ending in "
        ".csv, .json or .jsonl is written in that format.",
    )(fn)
    return fn


def decode_limit_options(fn: Callable) -> Callable:
    """--max-image-mb and --accept-jpeg-warnings (the decode policy's limits), as every
    command that decodes images takes them."""
    from iqa.io.policy import DEFAULT_MAX_IMAGE_MB

    fn = click.option(
        "--accept-jpeg-warnings", is_flag=True,
        help="Use JPEGs whose damaged data libjpeg reconstructs with a warning "
        "(refused by default: the reconstructed pixels are invented).",
    )(fn)
    fn = click.option(
        "--max-image-mb", type=click.FloatRange(min=1), default=DEFAULT_MAX_IMAGE_MB,
        show_default=True,
        help="Refuse, from its header, an image whose decoded pixels would need more "
        "than this many MiB (width x height x channels x bytes per sample).",
    )(fn)
    return fn


def device_options(fn: Callable) -> Callable:
    fn = click.option(
        "--batch-size", type=click.IntRange(min=1), default=None,
        help="Images per batch for network metrics (default: chosen per device).",
    )(fn)
    fn = click.option(
        "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
        show_default=True, help="Where networks run; auto picks cuda when available.",
    )(fn)
    return fn


def say(message: str) -> None:
    """One line on stderr, prefixed like every message of the tool (control characters
    of file names are escaped, so it stays one line)."""
    from iqa.distribution.ranks import current
    from iqa.output.values import one_line

    if current().main:  # under torchrun, rank 0 alone reports
        click.echo(f"iqa: {one_line(message)}", err=True)


def warn(message: str) -> None:
    from iqa.distribution.ranks import current
    from iqa.output.values import one_line

    if current().main:
        click.echo(f"iqa: warning: {one_line(message)}", err=True)


@contextmanager
def progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (only when stderr is a terminal); yields ``advance()``."""
    if not enabled or total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


@contextmanager
def download_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A ``progress(done, total)`` callback for downloads: a bar on a terminal's stderr,
    otherwise one line when the download starts."""
    if not sys.stderr.isatty():
        started = False

        def line(done: int, total: int | None) -> None:
            nonlocal started
            if not started:
                started = True
                size = f" ({total / 2**20:.1f} MiB)" if total else ""
                say(f"downloading {label}{size}")

        yield line
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=Console(file=sys.stderr),
        transient=True,
    )
    with bar:
        task = bar.add_task(f"downloading {label}", total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update
