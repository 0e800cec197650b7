"""``iqa compare REF DIST``: full-reference metrics on two files or two folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from iqa import __version__
from iqa.cli._common import device_options, download_bar, output_options, progress, say, warn
from iqa.cli._gates import EXIT_CODES_HELP, Gates, gate_options, prepare_gates
from iqa.gates import InputProblem, Quantity

if TYPE_CHECKING:
    from iqa.io.pairing import Pairing


@click.command(epilog=EXIT_CODES_HELP + " Unreadable or mismatched files are input errors "
               "unless --skip-bad, files without a partner unless --allow-unmatched.")
@click.argument("ref", type=click.Path())
@click.argument("dist", nargs=-1, required=True, type=click.Path())
@click.option("-m", "--metrics", "metric_spec", default="psnr,ssim,ms_ssim", show_default=True,
              help="Comma-separated metric names, or 'all' for every installed pair metric. "
              "Metrics named in --fail-if are added.")
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
@click.option("--lpips-net", type=click.Choice(["alex", "vgg", "squeeze"]), default="alex",
              show_default=True, help="LPIPS trunk network (weights: see `iqa weights`).")
@click.option("--allow-unmatched", is_flag=True,
              help="Files without a partner are listed but do not make the exit code 2.")
@click.option("--skip-bad", is_flag=True,
              help="Unreadable or mismatched pairs are reported but do not make the exit code 2 "
              "(gates then skip them).")
@gate_options
@device_options
def compare(
    ref: str, dist: tuple[str, ...], metric_spec: str, fmt: str, output: str | None, pair_by: str,
    alpha: str, ignore_exif: bool, luma: bool, lpips_net: str, allow_unmatched: bool,
    skip_bad: bool, fail_if: tuple[str, ...], baseline: str | None, tolerance: tuple[str, ...],
    two_sided: bool, junit: str | None, device: str, batch_size: int | None,
) -> int:
    """Score DIST against REF: an image and one or more distorted versions of it, or two
    folders whose images are paired by name (recursively).

    \b
    iqa compare ref.png out.jpg
    iqa compare ref.png q10.jpg q50.jpg q90.webp
    iqa compare refs/ outs/ --pair-by stem -m psnr,ssim --format csv -o scores.csv
    iqa compare refs/ outs/ --fail-if 'psnr<30' --fail-if 'mean(ssim)<0.95' \\
        --baseline baseline.json --tolerance psnr=0.05,ssim=0.1% \\
        --format json -o result.json --junit gates.xml
    """
    from iqa.compare import resolve_metric_names

    gates = prepare_gates("compare", fail_if=fail_if, baseline=baseline, tolerance=tolerance,
                          two_sided=two_sided, junit=junit)
    names = resolve_metric_names(metric_spec)
    names += [n for n in gates.metric_names if n not in names]
    settings = {"pair_by": pair_by, "alpha": alpha, "exif": not ignore_exif}
    with gates.guard():
        params = {"psnr.luma": luma, "lpips.net": lpips_net}
        return _run(ref, dist, names, gates, settings, fmt=fmt, output=output, params=params,
                    allow_unmatched=allow_unmatched, skip_bad=skip_bad, device=device,
                    batch_size=batch_size)


def _run(
    ref: str, dist: tuple[str, ...], names: list[str], gates: Gates, settings: dict[str, Any],
    *, fmt: str, output: str | None, params: dict[str, Any], allow_unmatched: bool,
    skip_bad: bool, device: str, batch_size: int | None,
) -> int:
    from iqa.compare import LoadSettings, build_metrics, score_pairs, summarize
    from iqa.io.pairing import pair_inputs
    from iqa.metrics.base import MetricOptions
    from iqa.output import make_writer, open_output

    options = MetricOptions(device=device, batch_size=batch_size, params=params, warn=warn,
                            download_progress=download_bar)
    metrics = build_metrics(names, options)
    pairing = pair_inputs(ref, dist, pair_by=settings["pair_by"])
    for path in pairing.ref_only:
        warn(f"{path}: no distorted image with this name in {dist[0]}")
    for path in pairing.dist_only:
        warn(f"{path}: no reference image with this name in {ref}")

    columns = ["pair", "ref", "dist"]
    for m in metrics:
        columns += [m.info.name, *m.annotate(None).keys()]
    columns += ["error", *gates.columns]
    context = _context(names, metrics, settings)
    gates.bind([Quantity.from_info(m.info) for m in metrics], context)
    records = []
    load = LoadSettings(alpha=settings["alpha"], exif=settings["exif"])
    with open_output(output) as stream:
        writer = make_writer(fmt, stream)
        writer.begin(columns, context)
        with progress(len(pairing.pairs), "scoring", pairing.folders) as advance:
            for record in score_pairs(pairing.pairs, metrics, load):
                if record["error"]:
                    say(record["error"])
                records.append(gates.check(record))
                writer.row(record)
                advance()
        failed = sum(1 for r in records if r["error"])
        report = {
            "summary": summarize(records, names),
            "counts": {"pairs": len(records), "scored": len(records) - failed, "failed": failed},
            "unmatched": {"ref_only": pairing.ref_only, "dist_only": pairing.dist_only},
            "errors": [{"pair": r["pair"], "message": r["error"]} for r in records if r["error"]],
        }
        outcome = gates.finish(records, _problems(records, pairing, skip_bad, allow_unmatched))
        if outcome.section is not None:
            report["gates"] = outcome.section
        writer.end(report)
    return outcome.exit_code


def _context(names: list[str], metrics: list, settings: dict[str, Any]) -> dict[str, Any]:
    """What every report starts with: tool, version, and the exact definitions used."""
    return {
        "tool": "iqa",
        "version": __version__,
        "command": "compare",
        "metrics": names,
        "definitions": {
            m.info.name: {**m.describe(), "higher_is_better": m.info.higher_is_better,
                          "unit": m.info.unit}
            for m in metrics
        },
        "settings": settings,
    }


def _problems(
    records: list[dict[str, Any]], pairing: Pairing, skip_bad: bool, allow_unmatched: bool
) -> list[InputProblem]:
    """Unscored pairs and unpaired files; fatal unless --skip-bad / --allow-unmatched."""
    problems = [InputProblem(r["pair"], r["error"], fatal=not skip_bad)
                for r in records if r["error"]]
    problems += [InputProblem(p, "no distorted image with this name", fatal=not allow_unmatched)
                 for p in pairing.ref_only]
    problems += [InputProblem(p, "no reference image with this name", fatal=not allow_unmatched)
                 for p in pairing.dist_only]
    return problems
