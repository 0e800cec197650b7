"""``iqa bdrate ANCHOR TEST``: Bjøntegaard delta rate and quality between two RD curve sets."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from iqa import __version__
from iqa.cli._common import report_format, say, warn
from iqa.errors import EXIT_GATE_FAILED, EXIT_OK, IQAError, UsageError

FORMATS = ("table", "json", "csv")


@click.command(epilog="Exit codes: 0 all gates pass, 1 a gate failed, 2 usage or input error.")
@click.argument("anchor", type=click.Path(dir_okay=False))
@click.argument("test", type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(["pchip", "cubic", "akima"]), default="pchip",
              show_default=True,
              help="Interpolation: pchip (piecewise cubic, JVET/AOM CTC), cubic (VCEG-M33 "
              "polynomial fit), akima.")
@click.option("--metric", "metric_opts", multiple=True, metavar="NAME",
              help="Metrics to compare (repeatable, comma lists allowed). Default: every "
              "metric both files have.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table (for people), json (one object), csv (one row per sequence and "
              "metric, then the means).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Draw the RD curves to FILE (.png, .svg or .pdf; needs "
              "matplotlib).")
@click.option("--html", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a self-contained HTML report: RD plots (with matplotlib) and "
              "the BD-rate tables (pip install \"iqa[html]\").")
@click.option("--fail-if", "fail_if", multiple=True, metavar="EXPR",
              help="Fail (exit 1) when EXPR holds for the mean over sequences: "
              "'bd_rate(psnr)>0.5' (percent), 'bd_quality(psnr)<-0.05'; or for the worst "
              "sequence: 'max(bd_rate(psnr))>2', 'min(bd_quality(psnr))<-0.1'. Repeatable.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write a JUnit XML report of the gates to FILE.")
@click.option("--allow-missing", is_flag=True,
              help="Average the sequences both files have when some are on one side only "
              "(default: an input error).")
def bdrate(anchor: str, test: str, method: str, metric_opts: tuple[str, ...], fmt: str,
           output: str | None, plot_path: str | None, html: str | None,
           fail_if: tuple[str, ...], junit: str | None, allow_missing: bool) -> int:
    """BD-rate (percent; negative: TEST needs fewer bits at equal quality) and BD-quality
    (BD-PSNR in dB, ...) of TEST against ANCHOR, per sequence and averaged.

    ANCHOR and TEST are `iqa compare --format json` results (one RD curve per reference
    image) or CSV files with a rate column (bpp, kbps, bytes or rate), metric columns and
    an optional sequence column. Each curve needs at least 4 points.

    \b
    iqa bdrate jpeg.json webp.json
    iqa bdrate anchor.csv test.csv --metric psnr --fail-if 'bd_rate(psnr)>0.5' --plot rd.png
    iqa bdrate jpeg.json webp.json --html bdrate.html
    """
    from iqa.output import check_output_targets
    from iqa.rd import gates as rd_gates

    fmt = report_format(fmt, output, FORMATS)
    # Every file the run writes, before any work: none may be ANCHOR or TEST (an -o or a
    # --junit naming an input would replace the measurements), nor another report's file.
    # --junit first: once it is known good, a refusal is written into it.
    check_output_targets([("--junit", junit)], [anchor, test])
    try:
        gates = rd_gates.parse_gates(fail_if)
        check_output_targets([("-o", output), ("--html", html), ("--junit", junit),
                              ("--plot", plot_path)], [anchor, test])
        return _run(anchor, test, method, metric_opts, fmt, output, plot_path, gates, junit,
                    allow_missing, html)
    except IQAError as exc:
        if junit:
            rd_gates.write_junit(junit, [], __version__, error=str(exc))
        raise


def _run(anchor: str, test: str, method: str, metric_opts: tuple[str, ...], fmt: str,
         output: str | None, plot_path: str | None, gates: list, junit: str | None,
         allow_missing: bool, html: str | None = None) -> int:
    from iqa.output import open_output
    from iqa.output.values import dumps
    from iqa.rd import gates as rd_gates
    from iqa.rd.curves import read_points
    from iqa.rd.report import analyse, choose_metrics
    from iqa.rd.write import document, write_csv, write_table

    if plot_path:
        from iqa.rd.plot import check_target

        check_target(plot_path)
    requested = [m.strip().lower() for opt in metric_opts for m in opt.split(",") if m.strip()]
    points_a, points_t = read_points(anchor, warn), read_points(test, warn)
    metrics = choose_metrics(points_a, points_t, requested, warn)
    for gate in gates:
        if gate.metric not in metrics:
            raise UsageError(f"--fail-if {gate.text}: {gate.metric} is not compared (metrics: "
                             f"{', '.join(metrics)}); name one of them")
    seen: set[str] = set()
    with _one_line_warnings(method, seen):
        analysis = analyse(points_a, points_t, metrics, method, allow_missing=allow_missing,
                           warn=warn)
    checks = rd_gates.check(gates, analysis)
    failed = any(c.failed for c in checks)
    code = EXIT_GATE_FAILED if failed else EXIT_OK
    context = {"tool": "iqa", "version": __version__, "command": "bdrate", "anchor": anchor,
               "test": test, "rate": points_a.rate_unit}
    labels = (f"ANCHOR {Path(anchor).stem}", f"TEST {Path(test).stem}")
    if plot_path:
        from iqa.rd.plot import plot

        with _one_line_warnings(method, seen):  # `cubic` is fitted again: warned once
            plot(plot_path, analysis, points_a.rate_unit, labels)
    if html:
        from iqa.output.html.bdrate import write_bdrate_page

        doc = document(analysis, context)
        if gates:
            doc["gates"] = {**rd_gates.section(checks), "exit_code": code}
        with _one_line_warnings(method, seen):
            write_bdrate_page(html, doc, analysis, points_a.rate_unit, labels)
    with open_output(output) as stream:
        if fmt == "json":
            doc = document(analysis, context)
            if gates:
                doc["gates"] = {**rd_gates.section(checks), "exit_code": code}
            stream.write(dumps(doc, indent=2) + "\n")
        elif fmt == "csv":
            write_csv(stream, analysis)
        else:
            write_table(stream, analysis, context)
    if junit:
        rd_gates.write_junit(junit, checks, __version__)
    for c in checks:
        if c.failed:
            say(c.message)
    return code


@contextmanager
def _one_line_warnings(method: str, seen: set[str]) -> Iterator[None]:
    """Python warnings of the block (numpy's RankWarning of ``--method cubic``, matplotlib's)
    as one ``iqa: warning:`` line each; a message in ``seen`` (the plot fits ``cubic``
    again) is not repeated."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        message = str(w.message)
        if message in seen:
            continue
        seen.add(message)
        if w.category.__name__ == "RankWarning":
            message = f"--method {method}: {message}; --method pchip does not fit a polynomial"
        warn(message)
