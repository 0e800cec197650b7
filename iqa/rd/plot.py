"""RD plots: one panel per metric, ANCHOR and TEST curves of each sequence, BD-rate on it.

matplotlib (the ``plot`` extra) is imported here only, with the Agg backend, so the
command needs no display. The file type follows the suffix (:data:`SUFFIXES`); the plot
is written to a temporary name beside the target and renamed at the end.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from iqa.errors import UsageError
from iqa.rd.bdrate import evaluate
from iqa.rd.report import Analysis

SUFFIXES = (".png", ".svg", ".pdf")


def check_target(path: str) -> None:
    """Refuse an unusable --plot target before any work is done."""
    target = Path(path)
    if target.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--plot {path}: the name must end in {', '.join(SUFFIXES)}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--plot {path}: folder {folder} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib; install it with "
                         "`pip install 'iqa[plot]'`") from None


def plot(path: str, analysis: Analysis, rate_unit: str, labels: tuple[str, str]) -> None:
    fig = figure(analysis, rate_unit, labels)
    target = Path(os.path.realpath(path))  # a link is followed: its target is replaced
    folder = target.parent
    from iqa.tempfiles import output_mode, part_file

    mode = output_mode(target)  # a replaced file's mode, else what the umask gives

    fd, tmp = next(part_file(folder, target.name, suffix=target.suffix))
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        fig.savefig(tmp, format=target.suffix.lower()[1:], dpi=120)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def svg_bytes(analysis: Analysis, rate_unit: str, labels: tuple[str, str]) -> bytes:
    """The RD plot as SVG (fonts drawn as paths: the page needs no font)."""
    import io

    import matplotlib

    fig = figure(analysis, rate_unit, labels)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg")
    return buffer.getvalue()


def figure(analysis: Analysis, rate_unit: str, labels: tuple[str, str]):
    """The matplotlib Figure of the RD curves (one panel per metric). Names (files,
    sequences, metrics) are drawn as they are, never as mathtext (:func:`_plain`)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    labels = (_plain(labels[0]), _plain(labels[1]))
    n = len(analysis.metrics)
    fig = Figure(figsize=(5.5 * n, 4.5), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, metric in zip(axes, analysis.metrics):
        _panel(ax, analysis, metric, rate_unit, labels)
    fig.suptitle(f"{labels[1]} vs {labels[0]} ({analysis.method}; mean of "
                 f"{len(analysis.sequences)} sequence(s))", fontsize=11)
    return fig


def _panel(ax, analysis: Analysis, metric: str, rate_unit: str,
           labels: tuple[str, str]) -> None:
    """One metric's panel: each sequence's ANCHOR and TEST points and curves."""
    colours = [f"C{i % 10}" for i in range(len(analysis.sequences))]
    for colour, seq in zip(colours, analysis.sequences):
        sides = (colour, colour) if len(analysis.sequences) > 1 else ("C0", "C1")
        for c, style, marker, label, tint in zip(seq.curves[metric], ("-", "--"),
                                                  ("o", "x"), labels, sides):
            name = label if len(analysis.sequences) == 1 else f"{label}: {_plain(seq.sequence)}"
            q = np.linspace(c.quality.min(), c.quality.max(), 200)
            rates = 10.0 ** evaluate(c.quality, np.log10(c.rates), analysis.method, q)
            ax.plot(rates, q, style, color=tint, linewidth=1.2)
            ax.plot(c.rates, c.quality, marker, color=tint, linestyle="none", label=name)
    mean = analysis.means[metric]
    shown, unit = _plain(metric), _plain(str(mean["unit"]))
    ax.set_xscale("log")
    ax.set_xlabel("rate" if rate_unit == "rate" else f"rate, {_plain(rate_unit)}")
    label = shown + (f" ({unit})" if unit else "")
    ax.set_ylabel(label + ("" if analysis.higher_is_better[metric] else ", lower is better"))
    ax.set_title(f"{shown}: BD-rate {mean['bd_rate']:+.2f} %, BD-{shown} "
                 f"{mean['bd_quality']:+.4g} {unit}".rstrip(), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if len(analysis.sequences) <= 8:
        ax.legend(fontsize=8)


def _plain(text: str) -> str:
    """``text`` for a matplotlib label: one line, each ``$`` escaped so that no part of a
    name is parsed as mathtext (``cost$\\q$.png`` stays as it is)."""
    from iqa.output.values import one_line

    return one_line(text).replace("$", r"\$")
