"""``iqa compare REF DIST``: full-reference metrics on two files or two folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from iqa import __version__
from iqa.cli._common import (
    decode_limit_options,
    device_options,
    download_bar,
    output_options,
    progress,
    report_format,
    say,
    warn,
)
from iqa.cli._gates import EXIT_CODES_HELP, Gates, gate_options, prepare_gates
from iqa.distribution.rank_run import distributed
from iqa.errors import IQAError, UsageError
from iqa.gates import InputProblem, Quantity
from iqa.io.images import DEFAULT_MAX_IMAGE_MB
from iqa.registry import DEFAULT_METRICS

if TYPE_CHECKING:
    from iqa.io.pairing import Pairing


@click.command(epilog=EXIT_CODES_HELP + " Unreadable or mismatched files are input errors "
               "unless --skip-bad, files without a partner unless --allow-unmatched.")
@click.argument("ref", type=click.Path(readable=False))
@click.argument("dist", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("-m", "--metrics", "metric_spec", default=DEFAULT_METRICS, show_default=True,
              help="Comma-separated metric names, or 'all' for every installed pair metric. "
              "Metrics named in --fail-if are added.")
@output_options
@click.option("--pair-by", type=click.Choice(["path", "stem", "subfolders"]), default="path",
              show_default=True,
              help="Pair folder files by relative path, or by relative path without suffix "
              "(x.png <-> x.jpg), or (rate-distortion) each sub-folder of DIST mirrors REF "
              "by relative path without suffix (refs/x.png <-> out/q30/x.avif, "
              "out/q50/x.avif).")
@click.option("--alpha", type=click.Choice(["error", "drop", "black", "white", "keep"]),
              default="error", show_default=True,
              help="Transparent images: refuse, ignore alpha, composite over black/white, or "
              "score alpha as a channel. Fully opaque alpha is always dropped.")
@click.option("--ignore-exif", is_flag=True,
              help="Compare the stored pixel grid instead of applying EXIF orientation.")
@click.option("--channels", type=click.Choice(["as-is", "rgb", "gray", "y"]), default="as-is",
              show_default=True,
              help="Convert both images of every pair first: as-is (a gray/RGB mismatch is "
              "refused), rgb (gray repeated to 3 channels), gray (RGB to BT.601 luma as "
              "Pillow's convert('L')), y (MATLAB rgb2ycbcr limited-range Y).")
@decode_limit_options
@click.option("--metric-option", "metric_options", multiple=True, metavar="METRIC.OPTION=VALUE",
              help="An option of a selected metric, e.g. lpips.net=vgg (each metric's "
              "options: `iqa metrics`). Repeatable; a misspelt option is an error.")
@click.option("--luma", is_flag=True,
              help="PSNR, SSIM and MS-SSIM on the unrounded BT.601 luma (Y) of RGB images, "
              "as BasicSR's test_y_channel (LPIPS keeps RGB).")
@click.option("--crop-border", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Remove N pixels on each side of both images before every "
              "metric (BasicSR's crop_border).")
@click.option("--lpips-net", type=click.Choice(["alex", "vgg", "squeeze"]), default="alex",
              show_default=True, help="LPIPS trunk network (weights: see `iqa weights`).")
@click.option("--size", metavar="WxH", default=None,
              help="Video: frame size of raw .yuv clips (Y4M clips carry it in their header).")
@click.option("--pix-fmt", "pix_fmt", metavar="NAME", default=None,
              help="Video: pixel format of raw .yuv clips, ffmpeg's names (yuv420p, "
              "yuv420p10le, yuv444p, gray, ...).")
@click.option("--fps", metavar="RATE", default=None,
              help="Video: frame rate (25, 29.97, 30000/1001) that gives the kbps of raw "
              ".yuv clips; overrides the rate of Y4M headers and containers.")
@click.option("--frames", type=click.IntRange(min=1), default=None, metavar="N",
              help="Video: score only the first N frames of each clip.")
@click.option("--psnr-peak", type=click.Choice(["max", "reduced"]), default="max",
              show_default=True,
              help="Video: PSNR peak 2^bits-1 (ffmpeg, libvmaf), or 255*2^(bits-8) "
              "(libvmaf reduced_hbd_peak, AOM CTC).")
@click.option("--per-frame", is_flag=True,
              help="Video: the table shows every frame too (CSV and JSON Lines do unless "
              "--per-clip).")
@click.option("--per-clip", is_flag=True,
              help="Video: CSV and JSON Lines write one row per clip (pooled values, bytes, "
              "kbps, bpp), the rows `iqa bdrate` reads, instead of one per frame.")
@click.option("--maps", "maps_dir", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Write each pair's error maps (SSIM, squared error in dB, "
              "LPIPS) as DIR/PAIR.METRIC.png heat maps at image resolution, fixed colour "
              "scales (legend.METRIC.png). Clips: the Y plane of each clip's worst frame, "
              "DIR/PAIR.frameN.ssim_y.png and .psnr_y.png.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Write a self-contained HTML report (pip install \"iqa[html]\").")
@click.option("--worst", type=click.IntRange(min=0), default=10, show_default=True,
              metavar="N", help="--html: show the N worst pairs with images and maps.")
@click.option("--allow-unmatched", is_flag=True,
              help="Files without a partner are listed but do not make the exit code 2.")
@click.option("--skip-bad", is_flag=True,
              help="Unreadable or mismatched pairs are reported but do not make the exit code 2 "
              "(gates then skip them).")
@gate_options
@device_options
@distributed
def compare(
    ref: str, dist: tuple[str, ...], metric_spec: str, fmt: str, output: str | None, pair_by: str,
    alpha: str, ignore_exif: bool, channels: str, max_image_mb: float,
    accept_jpeg_warnings: bool, metric_options: tuple[str, ...], luma: bool, crop_border: int,
    lpips_net: str,
    size: str | None,
    pix_fmt: str | None, fps: str | None, frames: int | None, psnr_peak: str,
    per_frame: bool, per_clip: bool, maps_dir: str | None, html: str | None, worst: int,
    allow_unmatched: bool,
    skip_bad: bool, fail_if: tuple[str, ...], baseline: str | None, tolerance: tuple[str, ...],
    two_sided: bool, junit: str | None, device: str, batch_size: int | None,
) -> int:
    """Score DIST against REF: an image and one or more distorted versions of it, or two
    folders whose images are paired by name (recursively). Video clips (Y4M, raw YUV,
    and mp4/mkv/webm/ivf ... with the video extra) are scored per plane and per frame.

    \b
    iqa compare ref.png out.jpg
    iqa compare ref.png q10.jpg q50.jpg q90.webp
    iqa compare refs/ out/ --pair-by subfolders --format json -o rd.json
    iqa compare ref.y4m dist.y4m -m psnr,ssim --fail-if "min(psnr_y)<30"
    iqa compare ref.y4m out.mp4 --format json -o clip.json
    iqa compare refs/ outs/ --pair-by stem -m psnr,ssim --format csv -o scores.csv
    iqa compare refs/ outs/ --maps maps/ --html report.html --worst 20
    iqa compare refs/ outs/ --fail-if 'psnr<30' --fail-if 'mean(ssim)<0.95' \\
        --baseline baseline.json --tolerance psnr=0.05,ssim=0.1% \\
        --format json -o result.json --junit gates.xml
    """
    from iqa.compare import resolve_metric_names
    from iqa.output import FORMATS
    from iqa.video.compare import VALUE_NAMES, ClipSettings

    fmt = report_format(fmt, output, FORMATS)
    gates = prepare_gates("compare", fail_if=fail_if, baseline=baseline, tolerance=tolerance,
                          two_sided=two_sided, junit=junit, extra_names=VALUE_NAMES)
    if _is_video(ref, dist):
        if luma or crop_border:
            from iqa.errors import UsageError

            raise UsageError(f"{'--luma' if luma else '--crop-border'}: only for images; "
                             "clips are scored per plane (psnr_y is the luma PSNR)")
        if fps is not None:
            from iqa.video.yuv import parse_fps

            parse_fps(fps)  # a bad --fps is a usage error before any clip is opened
        clip = ClipSettings(size=size, pix_fmt=pix_fmt, frames=frames, peak=psnr_peak, fps=fps)
        source = click.get_current_context().get_parameter_source("metric_spec")
        spec = None if source is click.core.ParameterSource.DEFAULT else metric_spec
        from iqa.distribution.ranks import current

        current().leave_if_follower()  # under torchrun, rank 0 alone compares clips
        with gates.guard():
            from iqa.video.run import run_clips

            return run_clips(ref, dist, spec, gates, clip, pair_by=pair_by, fmt=fmt,
                             output=output, per_frame=per_frame, per_clip=per_clip,
                             allow_unmatched=allow_unmatched, skip_bad=skip_bad, say=say,
                             warn=warn, version=__version__,
                             visuals=(maps_dir, html, worst))
    if maps_dir or html:
        from iqa.distribution.ranks import under_torchrun

        if under_torchrun():
            from iqa.errors import UsageError

            raise UsageError(f"{'--maps' if maps_dir else '--html'}: not under torchrun (one "
                             "process draws maps and the report); run iqa compare alone")
    _refuse_video_options(size=size, pix_fmt=pix_fmt, fps=fps, frames=frames,
                          psnr_peak=psnr_peak, per_frame=per_frame, per_clip=per_clip)
    names = resolve_metric_names(metric_spec, params={"psnr.luma": luma, "lpips.net": lpips_net},
                                 warn=warn)
    optional = _optional_metrics(metric_spec, names, gates.metric_names)
    names += [n for n in gates.metric_names if n not in names]
    from iqa.output.report import compare_settings

    settings = compare_settings(  # defaults left out, so older baselines still match
        pair_by=pair_by, alpha=alpha, exif=not ignore_exif, channels=channels,
        accept_jpeg_warnings=accept_jpeg_warnings, crop_border=crop_border,
        max_image_mb=None if max_image_mb == DEFAULT_MAX_IMAGE_MB else max_image_mb)

    with gates.guard():
        params = _metric_params(names, {"psnr.luma": luma, "lpips.net": lpips_net},
                                metric_options)
        return _run(ref, dist, names, gates, settings, fmt=fmt, output=output, params=params,
                    allow_unmatched=allow_unmatched, skip_bad=skip_bad, device=device,
                    batch_size=batch_size, optional=optional,
                    visuals=(maps_dir, html, worst))


def _is_video(ref: str, dist: tuple[str, ...]) -> bool:
    """Clips (.y4m, .yuv, .mp4 ...): a reference clip, or a reference folder holding clips
    and no images."""
    import os
    from pathlib import Path

    from iqa.io.pairing import list_images
    from iqa.video import is_clip

    if not os.path.isdir(ref):
        return is_clip(ref)
    try:
        images = bool(list_images(Path(ref)))
        clips = len(list_images(Path(ref), is_clip))
    except IQAError:
        return False  # the image pairing reports the unreadable folder
    if images and clips:  # never dropped without a word
        warn(f"{ref}: holds {clips} clip{'s' if clips > 1 else ''} as well as images; a folder "
             "with images is compared as images, so its clips are not scored (compare them "
             "as a folder of their own)")
    return not images and bool(clips)


def _refuse_video_options(**given: Any) -> None:
    defaults = {"psnr_peak": "max", "per_frame": False, "per_clip": False}
    used = [f"--{k.replace('_', '-')}" for k, v in given.items()
            if v is not None and v != defaults.get(k, None) and v is not False]
    if used:
        from iqa.errors import UsageError

        raise UsageError(f"{', '.join(used)}: only for video clips (.y4m, .yuv, .mp4 ...), and the "
                         "inputs are images; leave the option out")


def _metric_params(names: list[str], aliases: dict[str, Any],
                   metric_options: tuple[str, ...]) -> dict[str, Any]:
    """--luma / --lpips-net and every --metric-option, checked against what the selected
    metrics declare (a misspelt option or one of a metric not selected is exit 2)."""
    from iqa.registry import parse_metric_options, validate_params

    given = parse_metric_options(metric_options)
    ctx = click.get_current_context()
    for key, flag, param in (("psnr.luma", "--luma", "luma"),
                             ("lpips.net", "--lpips-net", "lpips_net")):
        source = ctx.get_parameter_source(param)
        if (key in given and source is not click.core.ParameterSource.DEFAULT
                and str(given[key]).lower() != str(aliases[key]).lower()):
            raise UsageError(f"--metric-option {key}={given[key]} contradicts {flag} "
                             f"{aliases[key]}; give one of them")
    chosen = {k: v for k, v in aliases.items() if k.split(".")[0] in names}
    return {**aliases, **validate_params({**chosen, **given}, names)}


def _optional_metrics(spec: str, names: list[str], gate_names: list[str]) -> set[str]:
    """Metrics the user did not ask for by name: the default set, or those `all` added.

    Such a metric that is undefined for an image size (MS-SSIM under 161x161) is
    ``null`` with a warning, not an error; a metric named in -m or --fail-if is."""
    ctx = click.get_current_context()
    source = ctx.get_parameter_source("metric_spec")
    asked = {n.strip().lower() for n in spec.split(",") if n.strip()}
    if source is click.core.ParameterSource.DEFAULT and spec == DEFAULT_METRICS:
        asked = set()
    return {n for n in names if n not in asked and n not in gate_names}


def _run(
    ref: str, dist: tuple[str, ...], names: list[str], gates: Gates, settings: dict[str, Any],
    *, fmt: str, output: str | None, params: dict[str, Any], allow_unmatched: bool,
    skip_bad: bool, device: str, batch_size: int | None, optional: set[str],
    visuals: tuple[str | None, str | None, int] = (None, None, 0),
) -> int:
    from functools import partial

    from iqa.compare import LUMA_METRICS, LoadSettings, build_metrics, score_pairs
    from iqa.distribution.ranks import in_input_order
    from iqa.io.pairing import missing_encodings, pair_inputs
    from iqa.metrics.base import MetricOptions
    from iqa.output import check_output_targets, make_writer, open_output
    from iqa.output.report import compare_context, compare_report

    _check_folders(ref, dist)
    pairing = pair_inputs(ref, dist, pair_by=settings["pair_by"])
    inputs = [p for pair in pairing.pairs for p in (pair.ref, pair.dist)]
    inputs += [*pairing.ref_only, *pairing.dist_only]
    if gates.baseline is not None:
        inputs.append(gates.baseline.path)
    try:
        check_output_targets([("-o", output), ("--junit", gates.junit),
                              ("--html", visuals[1])], inputs, maps_dir=visuals[0])
    except IQAError:
        gates.junit = None  # an unusable target gets no error report either
        raise
    options = MetricOptions(device=device, batch_size=batch_size, params=params, warn=warn,
                            download_progress=download_bar)
    metrics = build_metrics(names, options)
    from iqa.output.visuals import start_visuals

    maps_dir, html, worst = visuals
    sink = start_visuals(maps_dir=maps_dir, html=html, worst=worst, metrics=metrics,
                         inputs=inputs, keys=[p.key for p in pairing.pairs])
    missing = missing_encodings(pairing)
    if missing:
        for path in pairing.ref_only:
            if missing.get(path):
                warn(f"{path}: no encoding with this name in {', '.join(missing[path])} of "
                     f"{dist[0]}")
                continue
            warn(f"{path}: no distorted image with this name in {dist[0]}")
        for path in pairing.dist_only:
            warn(f"{path}: no reference image with this name in {ref}")
    else:  # a few names per side, then a count, and the --pair-by stem hint when it fits
        for line in pairing.summary_lines():
            warn(line)

    columns = ["pair", "ref", "dist", "bytes", "bpp"]
    for m in metrics:
        columns += [m.info.name, *m.annotate(None).keys()]
    columns += ["error", *gates.columns]
    context = compare_context(names, metrics, settings, __version__,
                              luma_metrics=LUMA_METRICS if params["psnr.luma"] else frozenset())
    gates.bind([Quantity.from_info(m.info) for m in metrics], context)
    records = []
    load = LoadSettings(alpha=settings["alpha"], exif=settings["exif"],
                        channels=settings.get("channels", "as-is"),
                        max_image_mb=settings.get("max_image_mb", DEFAULT_MAX_IMAGE_MB),
                        accept_jpeg_warnings=settings.get("accept_jpeg_warnings", False),
                        luma=bool(params["psnr.luma"]),
                        crop_border=settings.get("crop_border", 0)).check()
    # The JUnit report is written after the -o report is complete, so that a failure
    # of one never destroys the other (both targets were checked before any work).
    from iqa.output.visuals import running

    with open_output(output, machine=fmt != "table") as stream, running(sink):
        writer = make_writer(fmt, stream)
        writer.begin(columns, context)
        with progress(len(pairing.pairs), "scoring", pairing.folders) as advance:
            score = partial(score_pairs, metrics=metrics, settings=load, optional=optional,
                            on_map=sink)
            for record in in_input_order(pairing.pairs, score):  # ranks: iqa.distribution
                _tell(record, optional)
                records.append(gates.check(record))
                if sink is not None:
                    sink.add(record)
                writer.row(record)
                advance()
        problems = _problems(records, pairing, skip_bad, allow_unmatched)
        outcome = gates.finish(records, problems, write_junit=False)
        report = compare_report(records, names, pairing, outcome.section)
        writer.end(report)
    if html is not None:
        from iqa.output.html.compare import write_compare_page

        write_compare_page(html, {**context, "pairs": records, **report}, sink, load.load_cropped)
    gates.write_junit(outcome, records)
    return outcome.exit_code


def _tell(record: dict[str, Any], optional: set[str]) -> None:
    """stderr: the pair's error, or one warning per metric undefined for its size."""
    if record["error"]:
        say(record["error"])
        return
    for name, why in (record.get("undefined") or {}).items():
        if name in optional:
            warn(f"{record['dist']}: {name} is null, undefined for this image size: {why}")


def _check_folders(ref: str, dist: tuple[str, ...]) -> None:
    """A reference folder with a distorted side that does not exist: say so plainly."""
    import os

    if os.path.isdir(ref) and len(dist) == 1 and not os.path.exists(dist[0]):
        from iqa.errors import InputError

        raise InputError(f"{dist[0]}: no such file or folder (the distorted folder to pair "
                         f"with {ref})", dist[0])


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
