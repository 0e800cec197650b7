"""One ``iqa compare`` run over clip pairs: pairing, scoring, writing, gates, exit code.

The writers get, per format:

- ``csv`` and ``jsonl``: one row per frame (``pair``, ``frame``, the values) as soon as it
  is scored (a clip that cannot be scored: one row with its ``error``); the JSON Lines
  summary object carries ``clips``, the clip records with their summaries. With
  ``per_clip`` (``--per-clip``) they write one row per clip instead, as ``json`` does
  (the rows ``iqa bdrate`` reads from a CSV file);
- ``json``: ``pairs`` holds one record per clip (its pooled values, ``frames``, ``bytes``,
  ``kbps``, ``bpp``, ``fps``, ``summary`` per value, ``undefined``, ``error``; the rate
  fields are defined in :func:`iqa.video.compare.clip_rate`);
- ``table``: one row per clip with its pooled values (with ``per_frame``, every frame
  first, named ``PAIR frame N``), and a line saying which pooling each column shows.

Gates: a plain threshold (``psnr_y<38``) and a baseline test each clip's pooled value
(:func:`iqa.video.compare.clip_value`); an aggregate (``min(psnr_y)<30``,
``mean(...)``, ``median(...)``, ``max(...)``) is taken over every frame of every clip,
so ``min(...)`` is the worst frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from iqa.errors import IQAError, UsageError
from iqa.gates import InputProblem, Quantity
from iqa.video.compare import (
    DEFAULT_CLIP_METRICS,
    ClipSettings,
    asked_clip_values,
    definitions,
    resolve_clip_metrics,
    score_clip_pair,
)

POOLING_NOTE = ("clip values: PSNR columns MSE-pooled over frames (ffmpeg's PSNR line), "
                "SSIM and MS-SSIM columns the mean over frames")


def run_clips(
    ref: str, dist: Sequence[str], metric_spec: str | None, gates: Any, clip: ClipSettings,
    *, pair_by: str, fmt: str, output: str | None, per_frame: bool, allow_unmatched: bool,
    skip_bad: bool, say: Callable[[str], None], warn: Callable[[str], None],
    version: str, per_clip: bool = False, visuals: tuple[str | None, str | None, int] = (
        None, None, 0),
) -> int:
    """Score every clip pair and write the report; returns the exit code.

    ``metric_spec`` ``None`` means the default (:data:`DEFAULT_CLIP_METRICS`); names
    that ``gates`` test are added. ``visuals`` is ``(--maps DIR, --html FILE, --worst N)``:
    each clip's worst frame drawn (:mod:`iqa.output.clip_visuals`).
    """
    from iqa.io.pairing import pair_inputs
    from iqa.output import check_output_targets, make_writer, open_output
    from iqa.video.sources import is_clip

    names = resolve_clip_metrics(metric_spec or DEFAULT_CLIP_METRICS, gates.metric_names)
    asked = asked_clip_values(metric_spec, gates.metric_names)
    pairing = pair_inputs(ref, list(dist), pair_by=pair_by, select=is_clip)
    inputs = [p for pair in pairing.pairs for p in (pair.ref, pair.dist)]
    inputs += [*pairing.ref_only, *pairing.dist_only]
    _raw_options_used(clip, inputs)
    if gates.baseline is not None:
        inputs.append(gates.baseline.path)
    try:
        check_output_targets([("-o", output), ("--junit", gates.junit),
                              ("--html", visuals[1])], inputs, maps_dir=visuals[0])
    except IQAError:
        gates.junit = None
        raise
    from iqa.output.clip_visuals import start_clip_visuals

    maps_dir, html, worst = visuals
    sink = start_clip_visuals(maps_dir=maps_dir, html=html, worst=worst, names=names,
                              settings=clip, inputs=inputs,
                              keys=[p.key for p in pairing.pairs])
    for path in pairing.ref_only:
        warn(f"{path}: no distorted clip with this name in {dist[0]}")
    for path in pairing.dist_only:
        warn(f"{path}: no reference clip with this name in {ref}")
    settings: dict[str, Any] = {"pair_by": pair_by, "psnr_peak": clip.peak}
    for key in ("size", "pix_fmt", "fps", "frames"):
        if getattr(clip, key) is not None:
            settings[key] = getattr(clip, key)
    context = {"tool": "iqa", "version": version, "command": "compare", "input": "video",
               "metrics": names, "definitions": definitions(names, clip.peak),
               "settings": settings}
    gates.bind([Quantity(n, True, unit=context["definitions"][n]["unit"]) for n in names],
               context)
    frames_out = fmt in ("csv", "jsonl") and not per_clip
    columns = (["pair", "frame", *names, "error"] if frames_out else
               ["pair", "ref", "dist", "frames", "bytes", "kbps", "bpp", "fps", *names,
                "error", *gates.columns])
    records: list[dict[str, Any]] = []
    frame_values: dict[str, list[float]] = {n: [] for n in names}
    with open_output(output, machine=fmt != "table") as stream:
        writer = make_writer(fmt, stream)
        writer.begin(columns, context)

        def on_frame(row: dict[str, Any]) -> None:
            if frames_out:
                writer.row({"type": "frame", **row})
            elif per_frame:
                writer.row({**row, "pair": f"{row['pair']} frame {row['frame']}"})

        for pair in pairing.pairs:
            record, per = score_clip_pair(pair.ref, pair.dist, pair.key, names, clip, on_frame)
            _undefined_asked(record, asked)
            for name, values in per.items():
                frame_values[name] += [float(v) for v in values if v is not None]
            _tell(record, say, warn)
            records.append(gates.check(record))
            if sink is not None:
                sink.add(record, per)
            if frames_out and record["error"]:
                writer.row({"type": "frame", "pair": pair.key, "frame": None,
                            "error": record["error"]})
            elif not frames_out:
                writer.row(record)
        _frame_aggregates(gates, frame_values)
        problems = _problems(records, pairing, skip_bad, allow_unmatched)
        outcome = gates.finish(records, problems, write_junit=False)
        report = _report(records, names, pairing, outcome.section, clips=frames_out)
        writer.end(report)
    if html is not None:
        from iqa.output.html.clips import write_clip_page

        write_clip_page(html, {**context, "pairs": records, **report}, sink)
    gates.write_junit(outcome, records)
    return outcome.exit_code


def _frame_aggregates(gates: Any, frame_values: dict[str, list[float]]) -> None:
    """Aggregate gates (``min(psnr_y)``) see every frame of every clip, not one value per
    clip: the evaluator's collected values are replaced by the frames' values."""
    evaluator = getattr(gates, "evaluator", None)
    values = getattr(evaluator, "_values", None)
    if not isinstance(values, dict):
        return
    for name in values:
        if name in frame_values:
            values[name][:] = frame_values[name]


def _raw_options_used(clip: ClipSettings, inputs: Sequence[str]) -> None:
    """``--size`` and ``--pix-fmt`` describe raw ``.yuv`` clips; given when no input is
    one, they would be silently ignored (a Y4M or container says its own format)."""
    from iqa.video.sources import YUV_SUFFIXES

    given = [opt for opt, value in (("--size", clip.size), ("--pix-fmt", clip.pix_fmt))
             if value is not None]
    if given and not any(str(p).lower().endswith(YUV_SUFFIXES) for p in inputs):
        raise UsageError(f"{' and '.join(given)} describe raw .yuv clips, and no input is one "
                         "(a .y4m or compressed clip gives its own size and format); leave "
                         f"{'them' if len(given) > 1 else 'it'} out")


def _undefined_asked(record: dict[str, Any], asked: set[str]) -> None:
    """A value asked for by name that the clip does not define makes the pair's error."""
    if record["error"]:
        return
    problems = [f"{record['dist']}: {name} is undefined: {why}"
                for name, why in (record.get("undefined") or {}).items() if name in asked]
    if problems:
        record["error"] = "; ".join(problems)


def _tell(record: dict[str, Any], say: Callable[[str], None],
          warn: Callable[[str], None]) -> None:
    if record["error"]:
        say(record["error"])
        return
    for name, why in (record.get("undefined") or {}).items():
        warn(f"{record['dist']}: {name} is null: {why}")


def _report(records: list[dict[str, Any]], names: list[str], pairing: Any,
            gates_section: dict[str, Any] | None, *, clips: bool) -> dict[str, Any]:
    from iqa.output.report import summarize

    failed = sum(1 for r in records if r["error"])
    report: dict[str, Any] = {
        "summary": summarize(records, names),
        "counts": {"pairs": len(records), "scored": len(records) - failed, "failed": failed},
        "unmatched": {"ref_only": pairing.ref_only, "dist_only": pairing.dist_only},
        "errors": [{"pair": r["pair"], "message": r["error"]} for r in records if r["error"]],
        "pooling_note": POOLING_NOTE,
    }
    if clips:
        report["clips"] = records
    if gates_section is not None:
        report["gates"] = gates_section
    return report


def _problems(records: list[dict[str, Any]], pairing: Any, skip_bad: bool,
              allow_unmatched: bool) -> list[InputProblem]:
    problems = [InputProblem(r["pair"], r["error"], fatal=not skip_bad)
                for r in records if r["error"]]
    problems += [InputProblem(p, "no distorted clip with this name", fatal=not allow_unmatched)
                 for p in pairing.ref_only]
    problems += [InputProblem(p, "no reference clip with this name", fatal=not allow_unmatched)
                 for p in pairing.dist_only]
    return problems
