"""``iqa fid REAL FAKE``: FID (and KID) between two folders of images or statistics files.

The library builds one result record (:meth:`iqa.distribution.run.Comparison.record`) and
its header (:func:`iqa.distribution.report.header`); this command parses options, maps the
library's parameter names to its flags, and hands the record to a writer of
:mod:`iqa.output` (begin / row / end, as ``iqa compare`` does). Quality gates read the same
record (``fid``, ``kid_mean``, a plugin's value, ...).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import click

from iqa.cli._common import (
    decode_limit_options,
    device_options,
    download_bar,
    report_format,
    say,
    warn,
)
from iqa.cli._gates import EXIT_CODES_HELP, gate_options, prepare_gates
from iqa.distribution.preprocess import RESIZE_MODES
from iqa.distribution.rank_run import distributed
from iqa.errors import UsageError
from iqa.io.policy import FID_ALPHA_POLICIES
from iqa.metrics.kid import DEFAULT_SEED, DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS
from iqa.output import FORMATS
from iqa.params import as_flags

_KID_NAMES = {"kid", "kid_mean", "kid_std"}
#: The flag of each library parameter (:class:`iqa.distribution.run.FIDOptions`) whose
#: errors name it: ``resize=`` in Python is ``--resize`` here.
FLAGS = {name: "--" + name.replace("_", "-") for name in (
    "resize", "weights", "device", "batch_size", "workers", "cache_key", "alpha",
    "max_image_mb", "kid_subsets", "kid_subset_size", "seed", "limit", "limit_seed",
    "features", "stats_resize")}
FLAGS["metrics"] = "--metric"
FLAGS["params"] = "--metric-option"
_RESIZE_HELP = (
    "How images are resized to 299x299: tf = TF1 bilinear (torch-fidelity, TTUR, ADM "
    "suite); pytorch-fid = torch bilinear (python -m pytorch_fid); clean = PIL bicubic "
    "(clean-fid mode='clean')."
)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("real", type=click.Path())
@click.argument("fake", type=click.Path(), required=False)
@click.option("--resize", type=click.Choice(list(RESIZE_MODES)), default="tf",
              show_default=True, help=_RESIZE_HELP)
@click.option("--stats-resize", type=click.Choice(list(RESIZE_MODES)), default=None,
              help="How statistics files that do not record it were resized (pytorch-fid's "
              ".npz): checked like a recorded mode, so a mismatch with --resize is refused.")
@click.option("--kid", is_flag=True, help="Also compute KID (keeps features: 8 KiB per image).")
@click.option("--kid-subsets", type=click.IntRange(min=1), default=DEFAULT_SUBSETS,
              show_default=True, help="Random subsets KID is averaged over.")
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=DEFAULT_SUBSET_SIZE,
              show_default=True, help="Images per KID subset (reduced to the smaller set).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=DEFAULT_SEED,
              show_default=True,
              help="Seed of the KID subsets (torch-fidelity's default).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="FID Inception state dict in pytorch-fid's key layout, instead of the "
              "official file (see `iqa weights`); reported as unverified unless it is official.")
@click.option("--save-stats", type=click.Path(), default=None, metavar="FILE.npz",
              help="With one folder: write its statistics (pytorch-fid-compatible mu, sigma, "
              "plus n; features with --kid) and compute nothing else.")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the cache of folder statistics.")
@click.option("--cache-key", type=click.Choice(["stat", "content"]), default=None,
              help="What makes a cached folder's statistics stale: stat = any rewrite "
              "(size, mtime, ctime, inode); content = a change of the files' bytes (for "
              "shared file systems that do not keep ctime). Default: $IQA_CACHE_KEY, else stat.")
@click.option("--limit", type=int, default=None, metavar="N",
              help="Use only N files of each folder: the first N in sorted order, or N "
              "chosen at random with --limit-seed (quick checks; recorded in the output).")
@click.option("--limit-seed", type=click.IntRange(0, 2**32 - 1), default=None,
              metavar="SEED",
              help="With --limit: draw the N files at random with this seed.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes decoding and resizing images ahead of the network (0: in the "
              "main process, one after another). Default: up to 8 with CUDA; on CPU none: "
              "each batch is decoded on threads of the main process, one per core, before "
              "the network runs it.")
@click.option("--skip-bad", is_flag=True,
              help="Leave out files that cannot be decoded (each is named on stderr and "
              "counted in the output) instead of stopping at the first one.")
@click.option("--alpha", type=click.Choice(list(FID_ALPHA_POLICIES)), default="drop",
              show_default=True, help="Transparent images: ignore alpha (as pytorch-fid, "
              "torch-fidelity and clean-fid do), composite over black/white, or refuse them.")
@click.option("--exif", is_flag=True,
              help="Apply EXIF orientation before resizing (the reference tools do not).")
@decode_limit_options
@click.option("-m", "--metric", "extra_metrics", multiple=True, metavar="NAME[,NAME...]",
              help="Also compute these metrics: kid, is, fd, precision, recall, density, "
              "coverage, cmmd, or a registered distribution metric (see `iqa metrics`). "
              "Comma-separated, repeatable.")
@click.option("--features", default=None, metavar="EXTRACTOR[:MODE]",
              help="Feature extractor of fd, kid, precision, recall, density and coverage "
              "(default: vgg16 for the k-NN metrics as torch-fidelity, inception for fd and "
              "kid; cmmd always uses clip-vit-l-14-336), optionally with one of its "
              "preprocessing modes (e.g. dinov2-vit-l-14:torch); `iqa metrics` lists them.")
@click.option("--metric-option", "metric_options", multiple=True, metavar="METRIC.OPTION=VALUE",
              help="An option of a metric given with --metric (see `iqa metrics`). Repeatable.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="table",
              show_default=True, help="table (for people), json (one object with the "
              "header), jsonl (the result, then a summary line with the header), csv "
              "(header + row).")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write the result to FILE (atomically) instead of stdout.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a self-contained HTML report: results, definitions, and a "
              "seeded sample grid of each set (pip install \"iqa[html]\").")
@gate_options
@device_options
@distributed
def fid(real: str, fake: str | None, resize: str, stats_resize: str | None, kid: bool,
        kid_subsets: int, kid_subset_size: int, seed: int, weights: str | None,
        save_stats: str | None, no_cache: bool, cache_key: str | None, limit: int | None,
        limit_seed: int | None, workers: int | None, skip_bad: bool, alpha: str, exif: bool,
        max_image_mb: float, accept_jpeg_warnings: bool, extra_metrics: tuple[str, ...],
        metric_options: tuple[str, ...], features: str | None, fmt: str, output: str | None,
        html: str | None,
        fail_if: tuple[str, ...], baseline: str | None,
        tolerance: tuple[str, ...], two_sided: bool, junit: str | None, device: str,
        batch_size: int | None) -> int:
    """FID between REAL and FAKE: folders of images (recursive, any size, PNG/JPEG/WebP/
    TIFF/BMP) or statistics files (iqa's, pytorch-fid's, clean-fid's or ADM's .npz,
    torch-fidelity's .pt, EDM2's .pkl). rFID: originals as REAL, reconstructions as FAKE.

    \b
    iqa fid data/val/ samples/
    iqa fid data/val/ samples/ --kid --format json
    iqa fid data/val/ samples/ --html fid.html
    iqa fid data/val/ --save-stats val.npz     # then: iqa fid val.npz samples/
    iqa fid VIRTUAL_imagenet256_labeled.npz samples/   # ADM's reference batch
    iqa fid data/val/ samples/ --fail-if 'fid>5' --baseline fid.json --tolerance fid=2%
    """
    from iqa.distribution.generative import extractors
    from iqa.distribution.run import FIDOptions, Hooks
    from iqa.output import check_output_targets
    from iqa.registry import parse_metric_options

    fmt = report_format(fmt, output, FORMATS)

    with as_flags(FLAGS):
        options = FIDOptions(
            resize=resize, weights=weights, device=device, batch_size=batch_size,
            workers=workers, cache=not no_cache, cache_key=cache_key, skip_bad=skip_bad,
            alpha=alpha, exif=exif, max_image_mb=max_image_mb,
            accept_jpeg_warnings=accept_jpeg_warnings, kid=kid, kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size, seed=seed, limit=limit, limit_seed=limit_seed,
            metrics=tuple(name.strip().lower() for item in extra_metrics
                          for name in item.split(",") if name.strip()),
            params=parse_metric_options(metric_options), features=features,
            stats_resize=stats_resize,
        )
        options.check()
        plugins = [cls.info.name for cls in options.plugins()]
        plugins += list(extractors(options.metrics, options.features))  # kid on inception: no
    gates = prepare_gates("fid", fail_if=fail_if, baseline=baseline, tolerance=tolerance,
                          two_sided=two_sided, junit=junit,
                          extra_names=("kid_mean", "kid_std", *plugins))
    if set(gates.metric_names + list(gates.tolerances)) & _KID_NAMES and not options.with_kid:
        options = replace(options, kid=True)  # a gate on KID computes it
    sets = [real] if fake is None else [real, fake]
    if save_stats is not None and not save_stats.lower().endswith(".npz"):
        raise UsageError(f"--save-stats {save_stats}: the file name must end with .npz")
    check_output_targets([("-o", output), ("--save-stats", save_stats), ("--junit", junit),
                          ("--html", html)], [*sets, *([weights] if weights else [])],
                         input_folders=sets)
    with gates.guard():
        gates.check_settings(options.decode.describe())
    hooks = Hooks(warn=warn, info=say, progress=_progress, download=download_bar)
    if save_stats is not None:
        if fake is not None:
            raise UsageError("--save-stats takes one folder: iqa fid FOLDER --save-stats FILE.npz")
        if gates.active:
            raise UsageError("--save-stats computes no FID: gates need REAL and FAKE")
        if plugins:
            raise UsageError(f"--save-stats writes one folder's Inception statistics; "
                             f"-m {','.join(plugins)} compare REAL and FAKE")
        with as_flags(FLAGS):
            record = save_folder_stats(real, save_stats, options, hooks)
        _write(record, fmt, output)
        return 0
    if fake is None:
        raise UsageError("give two sets: iqa fid REAL FAKE (or one folder with --save-stats)")
    return _compare(real, fake, options, hooks, gates, fmt, output, html)


def _compare(real: str, fake: str, options: Any, hooks: Any, gates: Any, fmt: str,
             output: str | None, html: str | None = None) -> int:
    from iqa.distribution.report import header, quantities
    from iqa.distribution.run import compare_sets
    from iqa.gates import InputProblem

    with gates.guard():
        with as_flags(FLAGS):
            comparison = compare_sets(real, fake, options, hooks)
        record = comparison.record()
        # Bound after the run: the definitions name the weights' digest, known only now.
        gates.bind(quantities(comparison), header(record))
        gates.check(record)
        skipped = [InputProblem(s["file"], s["reason"], fatal=False)
                   for side in record["skipped"].values() for s in side]
        outcome = gates.finish([record], skipped)
        if outcome.section is not None:
            record["gates"] = outcome.section
        _write(record, fmt, output)
        if html is not None:
            from iqa.output.html.fid import write_fid_page

            write_fid_page(html, record)
    return outcome.exit_code


def save_folder_stats(folder: str, target: str, options: Any, hooks: Any) -> dict[str, Any]:
    """Compute (or take from the cache) one folder's statistics and write them to ``target``."""
    from pathlib import Path

    from iqa.distribution.ranks import current
    from iqa.distribution.run import Engine, listing_notes, plan_set, summarize_set
    from iqa.distribution.statsfile import write_stats
    from iqa.errors import InputError

    if not Path(folder).is_dir():
        raise InputError(f"{folder}: --save-stats needs a folder of images", folder)
    engine = Engine(options, hooks)
    plan = plan_set(folder, need_features=options.with_kid, limit=options.limit,
                    limit_seed=options.limit_seed)
    listing_notes([plan], ("SET",), options, engine.hooks.warn)
    side = summarize_set(plan, engine, label="stats", need_features=options.with_kid)
    current().leave_if_follower()  # under torchrun, rank 0 alone writes
    if side.stats is None:  # pragma: no cover - folders always give sums
        raise UsageError(f"{folder}: no statistics to save")
    meta = {**engine.meta(), "skipped": len(side.skipped),
            "limit": options.limit_record({"folder": plan.available})}
    write_stats(target, side.stats, meta, side.features if options.with_kid else None)
    hooks.info(f"wrote statistics of {side.n} images to {target}")
    return {"stats_file": target, "folder": folder, "n": side.n, "resize": options.resize,
            "weights": engine.weights.describe(), "skipped": len(side.skipped),
            "features": options.with_kid, "settings": options.decode.describe()}


def _write(record: dict[str, Any], fmt: str, output: str | None) -> None:
    from iqa.distribution.report import write_result
    from iqa.output import open_output

    with open_output(output) as stream:
        write_result(record, fmt, stream)


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar with images/s on stderr, only when stderr is a terminal."""
    if total < 2 or not sys.stderr.isatty():
        yield lambda k: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), "{task.fields[rate]}", TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=True)
    start = time.perf_counter()
    with bar:
        task = bar.add_task(label, total=total, rate="")
        done = 0

        def advance(k: int) -> None:
            nonlocal done
            done += k
            elapsed = time.perf_counter() - start
            rate = f"{done / elapsed:.1f} images/s" if elapsed > 0 else ""
            bar.update(task, advance=k, rate=rate)

        yield advance

