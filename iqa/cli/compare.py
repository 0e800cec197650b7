"""``iqa compare REF DIST``: full-reference metrics on two files or two folders."""

from __future__ import annotations

import click

from iqa import __version__
from iqa.cli._common import device_options, output_options, progress, say, warn
from iqa.errors import EXIT_INPUT, EXIT_OK


@click.command(epilog="Exit codes: 0 success, 1 a quality gate failed, 2 usage or input error.")
@click.argument("ref", type=click.Path())
@click.argument("dist", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--metrics", "metric_spec", default="psnr,ssim,ms_ssim", show_default=True,
              help="Comma-separated metric names, or 'all' for every installed pair metric.")
@output_options
@click.option("--pair-by", type=click.Choice(["path", "stem"]), default="path", show_default=True,
              help="Pair folder files by relative path, or by relative path without suffix "
              "(x.png <-> x.jpg).")
@click.option("--alpha", type=click.Choice(["error", "drop", "black", "white", "keep"]),
              default="error", show_default=True,
              help="Transparent images: refuse, ignore alpha, composite over black/white, or "
              "score alpha as a channel. Fully opaque alpha is always dropped.")
@click.option("--ignore-exif", is_flag=True,
              help="Compare the stored pixel grid instead of applying EXIF orientation.")
@click.option("--luma", is_flag=True, help="PSNR on BT.601 luma (Y) instead of all channels.")
@click.option("--allow-unmatched", is_flag=True,
              help="Files without a partner are listed but do not make the exit code 2.")
@click.option("--skip-bad", is_flag=True,
              help="Unreadable or mismatched pairs are reported but do not make the exit code 2.")
@device_options
def compare(
    ref: str, dist: tuple[str, ...], metric_spec: str, fmt: str, output: str | None, pair_by: str,
    alpha: str, ignore_exif: bool, luma: bool, allow_unmatched: bool, skip_bad: bool,
    device: str, batch_size: int | None,
) -> int:
    """Score DIST against REF: an image and one or more distorted versions of it, or two
    folders whose images are paired by name (recursively).

    \b
    iqa compare ref.png out.jpg
    iqa compare ref.png q10.jpg q50.jpg q90.webp
    iqa compare refs/ outs/ --pair-by stem -m psnr,ssim --format csv -o scores.csv
    """
    from iqa.compare import (
        LoadSettings,
        build_metrics,
        resolve_metric_names,
        score_pairs,
        summarize,
    )
    from iqa.io.pairing import pair_inputs
    from iqa.metrics.base import MetricOptions
    from iqa.output import make_writer, open_output

    names = resolve_metric_names(metric_spec)
    options = MetricOptions(device=device, batch_size=batch_size,
                            params={"psnr.luma": luma}, warn=warn)
    metrics = build_metrics(names, options)
    pairing = pair_inputs(ref, dist, pair_by=pair_by)
    for path in pairing.ref_only:
        warn(f"{path}: no distorted image with this name in {dist[0]}")
    for path in pairing.dist_only:
        warn(f"{path}: no reference image with this name in {ref}")

    columns = ["pair", "ref", "dist"]
    for m in metrics:
        columns += [m.info.name, *m.annotate(None).keys()]
    columns.append("error")
    context = {
        "tool": "iqa",
        "version": __version__,
        "command": "compare",
        "metrics": names,
        "definitions": {
            m.info.name: {**m.describe(), "higher_is_better": m.info.higher_is_better,
                          "unit": m.info.unit}
            for m in metrics
        },
        "settings": {"pair_by": pair_by, "alpha": alpha, "exif": not ignore_exif},
    }
    records = []
    with open_output(output) as stream:
        writer = make_writer(fmt, stream)
        writer.begin(columns, context)
        with progress(len(pairing.pairs), "scoring", pairing.folders) as advance:
            for record in score_pairs(pairing.pairs, metrics,
                                      LoadSettings(alpha=alpha, exif=not ignore_exif)):
                if record["error"]:
                    say(record["error"])
                records.append(record)
                writer.row(record)
                advance()
        failed = sum(1 for r in records if r["error"])
        report = {
            "summary": summarize(records, names),
            "counts": {"pairs": len(records), "scored": len(records) - failed, "failed": failed},
            "unmatched": {"ref_only": pairing.ref_only, "dist_only": pairing.dist_only},
            "errors": [{"pair": r["pair"], "message": r["error"]} for r in records if r["error"]],
        }
        writer.end(report)
    bad_input = failed and not skip_bad
    unmatched = (pairing.ref_only or pairing.dist_only) and not allow_unmatched
    return EXIT_INPUT if bad_input or unmatched else EXIT_OK
