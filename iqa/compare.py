"""Scoring pairs of images with pair metrics: decode once, batch, report each pair.

This is the library side of ``iqa compare``: it knows the metric contract, not any
particular metric. Decoding of the next pairs overlaps with scoring of the current
ones, a bad pair is reported and the others are still scored.

A metric that is undefined for a pair's image size (MS-SSIM under 161x161 pixels: the
metric raises :class:`~iqa.errors.ImageSizeError` from ``check``) gets ``None`` and its
reason in the record's ``undefined`` mapping. For a metric listed in ``optional`` (the
default metrics, which the user did not ask for by name) that is not an error of the
pair; for any other metric it is, like an unreadable file.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from iqa.errors import ImageSizeError, InputError, InvalidArgument, InvalidType, UsageError
from iqa.io.images import DEFAULT_MAX_IMAGE_MB, Image
from iqa.io.pairing import Pair
from iqa.metrics.base import PAIR, MetricOptions, PairMetric
from iqa.output.report import summarize  # noqa: F401 - part of this module's API
from iqa.pair_loading import (  # noqa: F401 - LoadSettings and the loaders are part of this API
    LoadSettings,
    LumaImage,
    _prefetched,
    decode_threads,
    load_pair,
    luma_image,
    pair_rate,
)
from iqa.registry import DEFAULT_METRICS, load

#: on_map(pair, (ref, dist) images as the metric saw them, metric, value, map)
MapSink = Callable[[Pair, Any, str, Any, Any], None]
#: Metrics that ``luma`` scores on BT.601 Y (the others, e.g. LPIPS, keep RGB).
LUMA_METRICS = frozenset({"psnr", "ssim", "ms_ssim"})
_DEFAULT_LOAD = LoadSettings()  # compare's decode policy defaults (frozen)


def resolve_metric_names(
    spec: str, *, params: dict[str, Any] | None = None, warn: Callable[[str], None] | None = None,
) -> list[str]:
    """``"psnr,ssim"`` → names; ``"all"`` → every pair metric that can run here
    (see :func:`iqa.registry.resolve_pair_metrics`)."""
    from iqa.registry import resolve_pair_metrics

    return resolve_pair_metrics(spec, params=params, warn=warn)


def build_metrics(names: Sequence[str], options: MetricOptions) -> list[PairMetric]:
    metrics = []
    for name in names:
        cls = load(name)
        if cls.info.kind != PAIR:
            raise UsageError(
                f"{name} compares two sets of images, not pairs; use `iqa {name} REAL FAKE`"
            )
        metrics.append(cls(options))
    for metric in metrics:
        metric.alongside(names)
    return metrics


def score_pairs(
    pairs: Sequence[Pair],
    metrics: Sequence[PairMetric],
    settings: LoadSettings = _DEFAULT_LOAD,
    *,
    optional: Collection[str] = (),
    on_map: MapSink | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one record per pair, in order, as soon as its batch is scored.

    With ``on_map``, metrics that have a spatial form (a ``score_maps`` method: SSIM,
    PSNR, LPIPS) score through it, and ``on_map(pair, images, metric, value, map)`` gets
    each map, from the same pass as the value, before the pair's record is yielded.

    Each record has ``pair``, ``ref``, ``dist``, ``bytes`` and ``bpp`` (the distorted
    file's size and 8·bytes/(W·H); ``None`` when the pair was not loaded), one value per
    metric (``None`` where it could not be computed), the metrics' annotations,
    ``undefined`` (metric name → why it is undefined for this image size; empty when all
    are defined) and ``error`` (the
    pair's problems joined with "; ", or ``None``). A size-undefined metric named in
    ``optional`` is only in ``undefined``; any other is also in ``error``.
    """
    batch = max([1, *(m.preferred_batch for m in metrics)])
    pending: list[tuple[Pair, tuple[Image, Image] | InputError]] = []
    # Two batches ahead: the next batch decodes while this one is scored.
    on_gpu = any(str(getattr(m, "device", "cpu")).startswith("cuda") for m in metrics)
    for item in _prefetched(pairs, settings, ahead=max(2, 2 * batch), processes=on_gpu):
        pending.append(item)
        if len(pending) >= batch:
            yield from _score_batch(pending, metrics, optional, on_map)
            pending = []
    if pending:
        yield from _score_batch(pending, metrics, optional, on_map)


def _score_batch(
    items: list[tuple[Pair, tuple[Image, Image] | InputError]], metrics: Sequence[PairMetric],
    optional: Collection[str] = (),
    on_map: MapSink | None = None,
) -> Iterator[dict[str, Any]]:
    undefined: dict[int, dict[str, str]] = {i: {} for i in range(len(items))}
    errors: dict[int, list[str]] = {i: [] for i in range(len(items))}
    values: dict[int, dict[str, float | None]] = {i: {} for i in range(len(items))}
    for i, (_, loaded) in enumerate(items):
        if isinstance(loaded, InputError):
            errors[i].append(str(loaded))
    for metric in sorted(metrics, key=lambda m: getattr(m, "run_late", False)):
        name = metric.info.name
        ready = []
        view = _view(items, name)
        for i, (_, loaded) in enumerate(view):
            if isinstance(loaded, InputError):
                continue
            try:
                metric.check(*loaded)
                ready.append(i)
            except ImageSizeError as exc:
                undefined[i][name] = str(exc)
                if name not in optional:
                    errors[i].append(_named(items[i][0], exc))
            except InputError as exc:
                errors[i].append(_named(items[i][0], exc))
        spatial = on_map is not None and hasattr(metric, "score_maps")
        for i, value in _run_metric(metric, view, ready, errors, spatial):
            if spatial and value is not None:
                value, value_map = value
                on_map(view[i][0], view[i][1], name, value, value_map)
            values[i][name] = value
    for i, (pair, _) in enumerate(items):
        record: dict[str, Any] = {"pair": pair.key, "ref": pair.ref, "dist": pair.dist}
        loaded = items[i][1]
        record.update(getattr(loaded, "rate", None) or {"bytes": None, "bpp": None})
        for metric in metrics:
            value = values[i].get(metric.info.name)
            record[metric.info.name] = value
            record.update(metric.annotate(value))
        record["undefined"] = undefined[i]
        record["error"] = "; ".join(errors[i]) or None
        yield record


def _view(items: list[tuple[Pair, Any]], name: str) -> list[tuple[Pair, Any]]:
    """The pairs as metric ``name`` sees them: the Y images for a luma metric."""
    if name not in LUMA_METRICS:
        return items
    return [(pair, loaded.luma if getattr(loaded, "luma", None) is not None else loaded)
            for pair, loaded in items]


def _run_metric(
    metric: PairMetric,
    items: list[tuple[Pair, Any]],
    ready: list[int],
    errors: dict[int, list[str]],
    spatial: bool = False,
) -> list[tuple[int, Any]]:
    """Score the ready pairs in one batch; if the batch is refused, find the pair at fault.

    With ``spatial`` the values are ``(value, map)`` from ``metric.score_maps``."""
    if not ready:
        return []
    score = metric.score_maps if spatial else metric.score  # type: ignore[attr-defined]
    try:
        return list(zip(ready, score([items[i][1] for i in ready])))
    except InputError as exc:
        if len(ready) == 1:
            errors[ready[0]].append(_named(items[ready[0]][0], exc))
            return [(ready[0], None)]
    out: list[tuple[int, float | None]] = []
    for i in ready:
        out.extend(_run_metric(metric, items, [i], errors, spatial))
    return out


def _named(pair: Pair, exc: InputError) -> str:
    text = str(exc)
    if exc.path or pair.ref in text or pair.dist in text:
        return text
    return f"{pair.dist}: {text}"


def compare_files(
    ref: str,
    dist: str | Sequence[str],
    *,
    metrics: str | None = None,
    pair_by: str = "path",
    alpha: str = "error",
    exif: bool = True,
    channels: str = "as-is",
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    accept_jpeg_warnings: bool = False,
    luma: bool = False,
    crop_border: int = 0,
    lpips_net: str = "alex",
    device: str = "auto",
    batch_size: int | None = None,
    warn: Callable[[str], None] | None = None,
    maps: str | None = None,
    html: str | None = None,
    worst: int = 10,
) -> dict[str, Any]:
    """Score ``dist`` against ``ref`` (an image and distorted images, or two folders) and
    return the report ``iqa compare --format json`` writes: header (``tool``,
    ``version``, ``definitions``, ``settings``), ``pairs``, ``summary``, ``counts``,
    ``unmatched``, ``errors``. Non-finite values stay Python floats (``inf``).

    Keyword arguments are the options of ``iqa compare`` (``metrics``: a comma list or
    ``"all"``; ``None`` is the default set, whose size-undefined values are ``None``
    without an error). A bad pair is reported in its record's ``error`` and in
    ``errors``; the other pairs are scored. Raises :class:`~iqa.errors.IQAError` for
    bad options and inputs that stop the whole run (no pair at all).

    ``maps`` (a folder) and ``html`` (a file) write the error maps and the HTML report
    of ``iqa compare --maps DIR --html FILE`` (``worst``: ``--worst N``).
    """
    from iqa import __version__
    from iqa.io.pairing import pair_inputs
    from iqa.output.report import compare_context, compare_report, compare_settings

    ref, dist = _path_text(ref, "ref"), _paths_text(dist)
    metrics = _metric_spec(metrics)
    for name, value, low in (("crop_border", crop_border, 0), ("batch_size", batch_size, 1),
                             ("worst", worst, 0)):
        if value is not None:
            _whole(value, name, low)
    load = LoadSettings(alpha=alpha, exif=exif, channels=channels, max_image_mb=max_image_mb,
                        accept_jpeg_warnings=accept_jpeg_warnings, luma=luma,
                        crop_border=crop_border).check()
    params = {"psnr.luma": luma, "lpips.net": lpips_net}
    names = resolve_metric_names(metrics or DEFAULT_METRICS, params=params, warn=warn)
    optional = set(names) if metrics is None else set()
    settings = compare_settings(
        pair_by=pair_by, alpha=alpha, exif=exif, channels=channels,
        accept_jpeg_warnings=accept_jpeg_warnings, crop_border=crop_border,
        max_image_mb=None if max_image_mb == DEFAULT_MAX_IMAGE_MB else max_image_mb)
    pairing = pair_inputs(ref, dist, pair_by=pair_by)
    options = MetricOptions(device=device, batch_size=batch_size, params=params,
                            **({"warn": warn} if warn else {}))
    built = build_metrics(names, options)
    from iqa.output import check_output_targets
    from iqa.output.visuals import running, start_visuals

    inputs = [p for pair in pairing.pairs for p in (pair.ref, pair.dist)]
    check_output_targets([("html", html)], inputs)
    sink = start_visuals(maps_dir=maps, html=html, worst=worst, metrics=built, inputs=inputs,
                         keys=[p.key for p in pairing.pairs])
    records = []
    with running(sink):
        for record in score_pairs(pairing.pairs, built, load, optional=optional, on_map=sink):
            records.append(record)
            if sink is not None:
                sink.add(record)
    context = compare_context(names, built, settings, __version__,
                              luma_metrics=LUMA_METRICS if luma else frozenset())
    doc = {**context, "pairs": records, **compare_report(records, names, pairing)}
    if html is not None:
        from iqa.output.html.compare import write_compare_page

        write_compare_page(html, doc, sink, load.load_cropped)
    return doc


def _path_text(value: Any, name: str) -> str:
    """A path given as ``str`` or ``os.PathLike``, as text (the report holds text)."""
    import os

    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str):
            return text
    raise InvalidType(f"{name} must be a path (str or pathlib.Path), got {value!r}")


def _paths_text(value: Any) -> str | list[str]:
    """``dist``: one path, or a sequence of paths."""
    import os

    if isinstance(value, (str, os.PathLike)):
        return _path_text(value, "dist")
    if isinstance(value, (list, tuple)) and value:
        return [_path_text(v, "dist") for v in value]
    raise InvalidType(f"dist must be a path or a non-empty list of paths, got {value!r}")


def _metric_spec(value: Any) -> str | None:
    """``metrics``: None (the default set), a comma list, or a sequence of names."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        raise InvalidType(f"metrics must be a comma list or a list of names, got {value!r}")
    if not value.strip(" ,"):
        raise InvalidArgument("metrics names no metric; give one (see `iqa metrics`), or "
                              "None for the default set")
    return value


def _whole(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidType(f"{name} must be a whole number, got {value!r}")
    if value < low:
        raise InvalidArgument(f"{name} must be at least {low}, got {value}")
