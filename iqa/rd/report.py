"""BD-rate and BD-quality of every common sequence and metric, and their means.

The mean over sequences is the arithmetic mean of the per-sequence values, as common
test condition (CTC) spreadsheets report it. A sequence present on one side only is an
input error unless ``allow_missing`` (then it is left out with a warning).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from iqa.errors import InputError, UsageError
from iqa.rd.bdrate import MIN_OVERLAP, bd_quality, bd_rate
from iqa.rd.curves import Curve, PointSet, curve, lower_is_better_by_name


@dataclass
class SequenceResult:
    sequence: str
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: dict[str, tuple[Curve, Curve]] = field(default_factory=dict)


@dataclass
class Analysis:
    method: str
    metrics: list[str]
    higher_is_better: dict[str, bool]
    sequences: list[SequenceResult]
    means: dict[str, dict[str, Any]]


def choose_metrics(anchor: PointSet, test: PointSet, requested: Sequence[str],
                   warn: Callable[[str], None]) -> list[str]:
    """``requested`` (each must be on both sides), or every metric the two files share
    and fill; the two point sets then hold those metrics' values, checked
    (:meth:`~iqa.rd.curves.PointSet.use`: a column not compared is never read as a
    number)."""
    chosen = _choose(anchor, test, requested, warn)
    for side in (anchor, test):
        side.use(chosen)
    return chosen


def _choose(anchor: PointSet, test: PointSet, requested: Sequence[str],
            warn: Callable[[str], None]) -> list[str]:
    if requested:
        for m in requested:
            for side in (anchor, test):
                if m not in side.metrics:
                    raise InputError(f"{side.path}: no metric {m!r} (it has "
                                     f"{', '.join(side.metrics) or 'none'}); add it or drop "
                                     "it from --metric", side.path)
        return list(dict.fromkeys(requested))
    common = [m for m in anchor.metrics if m in test.metrics]
    for side, other in ((anchor, test), (test, anchor)):
        only = [m for m in side.metrics if m not in other.metrics]
        if only and common:
            warn(f"{side.path}: {', '.join(only)} not in {other.path}; left out")
    # A column without a number in some row (MS-SSIM of images under 161 px is null in
    # `iqa compare` output; a text column of notes) is left out when not asked for;
    # asked for with --metric, the first bad cell is an error.
    for side in (anchor, test):
        unusable = [m for m in common if side.unusable(m)]
        if unusable and len(unusable) < len(common):
            warn(f"{side.path}: {', '.join(unusable)} has no number in some rows; left out "
                 "(name it with --metric to see where)")
            common = [m for m in common if m not in unusable]
    if not common:
        raise InputError(f"{test.path}: no metric in common with {anchor.path} (ANCHOR has "
                         f"{', '.join(anchor.metrics) or 'none'}, TEST "
                         f"{', '.join(test.metrics) or 'none'}); compare the same metrics",
                         test.path)
    return common


def check_definitions(anchor: PointSet, test: PointSet, metrics: list[str]) -> None:
    """Refuse a metric that the two ``iqa compare`` runs defined differently (PSNR on luma
    against PSNR on RGB): its BD values would compare two different things."""
    for m in metrics:
        a, t = anchor.definitions.get(m), test.definitions.get(m)
        if a is None or t is None or a == t:
            continue
        key = next(k for k in sorted(set(a) | set(t)) if a.get(k) != t.get(k))
        raise InputError(f"{test.path}: {m} is defined differently than in {anchor.path} "
                         f"({key}: {t.get(key)!r} vs {a.get(key)!r}); run both `iqa compare` "
                         "with the same options", test.path)


def check_settings(anchor: PointSet, test: PointSet) -> None:
    """Refuse two ``iqa compare`` runs whose settings change values (``--channels gray``,
    ``--crop-border 4`` on one side), by the rule of ``--baseline``
    (:meth:`~iqa.gates.baseline.Baseline.definition_changes`: settings left out are
    their defaults; pairing and the size limit change no value). A file that says
    nothing of its settings (a CSV file) is not checked."""
    from iqa.gates.baseline import Baseline

    if not anchor.settings or not test.settings:
        return
    changed, _ = Baseline(anchor.path, {}, settings=anchor.settings).definition_changes(
        {}, test.settings, ())
    if changed:
        raise InputError(f"{test.path}: made with other settings than {anchor.path} "
                         f"({'; '.join(changed)}); run both `iqa compare` with the same "
                         "options", test.path)


def unit(metric: str, anchor: PointSet) -> str:
    """The metric's unit ("dB" for PSNR): the file's definitions, else the registry."""
    from iqa.rd.curves import registered_info

    if "unit" in anchor.definitions.get(metric, {}):
        return str(anchor.definitions[metric]["unit"])
    info = registered_info(metric)
    return getattr(info, "unit", "") if info is not None else ""


def direction(metric: str, anchor: PointSet, test: PointSet) -> bool:
    """higher_is_better from the files' definitions, else the registry / known names."""
    for side in (anchor, test):
        if metric in side.higher_is_better:
            return side.higher_is_better[metric]
    return not lower_is_better_by_name(metric)


def analyse(anchor: PointSet, test: PointSet, metrics: list[str], method: str, *,
            allow_missing: bool, warn: Callable[[str], None]) -> Analysis:
    if anchor.rate_unit.split()[0] != test.rate_unit.split()[0]:
        raise UsageError(f"{test.path}: rates are {test.rate_unit} but {anchor.path} has "
                         f"{anchor.rate_unit}; BD-rate needs the same rate unit on both sides")
    names = [s for s in anchor.sequences if s in test.sequences]
    if not names:
        raise InputError(f"{test.path}: no sequence in common with {anchor.path} (e.g. "
                         f"{next(iter(test.sequences))!r} vs {next(iter(anchor.sequences))!r}); "
                         "use the same sequence names / reference paths", test.path)
    for side, other in ((anchor, test), (test, anchor)):
        missing = [s for s in side.sequences if s not in other.sequences]
        if missing and not allow_missing:
            raise InputError(f"{other.path}: no sequence {missing[0]!r} (in {side.path}; "
                             f"{len(missing)} missing); add it, or pass --allow-missing to "
                             "average the common sequences only", other.path)
        for s in missing:
            warn(f"{other.path}: no sequence {s!r}; left out of the means")
    check_definitions(anchor, test, metrics)
    check_settings(anchor, test)
    hib = {m: direction(m, anchor, test) for m in metrics}
    results = [_sequence(s, anchor, test, metrics, hib, method, warn) for s in names]
    means = {}
    for m in metrics:
        rates = [r.metrics[m]["bd_rate"] for r in results]
        quality = [r.metrics[m]["bd_quality"] for r in results]
        means[m] = {"bd_rate": math.fsum(rates) / len(rates),
                    "bd_quality": math.fsum(quality) / len(quality),
                    "sequences": len(results), "higher_is_better": hib[m],
                    "unit": unit(m, anchor)}
    return Analysis(method, metrics, hib, results, means)


def _sequence(name: str, anchor: PointSet, test: PointSet, metrics: list[str],
              hib: dict[str, bool], method: str, warn: Callable[[str], None]) -> SequenceResult:
    result = SequenceResult(name)
    for m in metrics:
        a = curve(anchor.sequences[name], m, hib[m], f"{anchor.path}: sequence {name}",
                  anchor.path)
        t = curve(test.sequences[name], m, hib[m], f"{test.path}: sequence {name}", test.path)
        for side, c in ((anchor, a), (test, t)):
            if c.dropped:
                warn(f"{side.path}: sequence {name}: {c.dropped} point(s) with infinite {m} "
                     "(lossless) left out of the curve")
        rate = bd_rate(a.rates, a.quality, t.rates, t.quality, method)
        quality = bd_quality(a.rates, a.quality, t.rates, t.quality, method)
        if rate.overlap == 0 or quality.overlap == 0:
            axis = "quality" if rate.overlap == 0 else "rate"
            raise InputError(f"{test.path}: sequence {name}: {m} curves of ANCHOR and TEST "
                             f"do not overlap in {axis}; BD needs a common range", test.path)
        for overlap, axis, value in ((rate.overlap, "quality", "BD-rate"),
                                     (quality.overlap, "rate", f"BD-{m}")):
            if overlap < MIN_OVERLAP:
                warn(f"sequence {name}: {m} curves share {overlap:.0%} of their {axis} range "
                     f"(under {MIN_OVERLAP:.0%}); {value} covers that shared range only")
        result.metrics[m] = {
            "bd_rate": rate.value, "bd_quality": quality.value,
            "quality_overlap": rate.overlap, "rate_overlap": quality.overlap,
            "anchor_points": len(a.rates), "test_points": len(t.rates),
        }
        result.curves[m] = (a, t)
    return result
