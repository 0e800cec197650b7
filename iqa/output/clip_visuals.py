"""What ``iqa compare --maps DIR --html FILE`` keeps of each clip pair.

A clip is drawn by its worst frame (:mod:`iqa.video.worst`): after the pair is scored,
that frame is read again from both clips and the maps of its Y plane are

* with ``--maps DIR``, written as ``DIR/KEY.frameN.ssim_y.png`` and
  ``DIR/KEY.frameN.psnr_y.png`` (the same colour scales and legends
  ``legend.ssim.png``/``legend.psnr.png`` as images; a temporary file renamed when
  complete; an input is never overwritten);
* with ``--html``, kept for the clips among the worst N so far (ranked by the clip value
  of the rank value, ``ssim_y`` else ``psnr_y``): reduced JPEGs of the frame's Y planes
  and maps, and a full-resolution crop of the region with the lowest local SSIM. Memory
  stays O(N) whatever the number of clips.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from iqa.output.maps import MAP_METRICS, indices, legend, legend_name, palette_png, png_bytes


class ClipVisuals:
    """Worst frames of the clip pairs: their map files and the report's pictures."""

    def __init__(self, *, maps_dir: str | None, keep: int, rank: str | None,
                 names: Sequence[str], settings: Any,
                 protected: set[tuple[int, int]] = frozenset()):
        self.maps_dir = maps_dir
        self.keep = keep
        self.rank = rank
        self.names = list(names)
        self.settings = settings
        self.protected = protected
        self._ranked: list[tuple[float, int, dict[str, Any]]] = []
        self._items: dict[str, dict[str, Any]] = {}
        self._legends: set[str] = set()
        self._count = 0

    def add(self, record: dict[str, Any], per_frame: dict[str, list[float | None]]) -> None:
        """A scored clip pair: draw its worst frame (maps, and pictures if it is among the
        worst ``keep`` so far)."""
        from iqa.video.worst import frame_maps, read_frame_y, worst_frame

        if record.get("error") or self.rank is None:
            return
        index = None
        for name in dict.fromkeys([self.rank, "psnr_y", *self.names]):  # SSIM undefined: PSNR
            index = worst_frame(per_frame.get(name, ()))
            if index is not None:
                break
        if index is None:
            return
        entry = None
        value = record.get(self.rank)
        if self.keep > 0 and value is not None and not math.isnan(value):
            self._count += 1
            entry = (-value, self._count, record)
            ranked = sorted([*self._ranked, entry], key=lambda t: (-t[0], t[1]))
            if entry not in ranked[:self.keep]:
                entry = None
        if self.maps_dir is None and entry is None:
            return
        frame = read_frame_y(record["ref"], record["dist"], index, self.settings)
        maps = frame_maps(frame)
        shape = frame.ref.shape
        drawn = {m: (indices(m, v_map, shape, self._range(m, frame)), v_map, self._range(m, frame))
                 for m, (_, v_map) in maps.items()}
        if self.maps_dir is not None:
            self._write(record["pair"], index, drawn)
        if entry is not None:
            self._ranked.append(entry)
            self._ranked.sort(key=lambda t: (-t[0], t[1]))
            for _, _, dropped in self._ranked[self.keep:]:
                self._items.pop(dropped["pair"], None)
            del self._ranked[self.keep:]
            self._items[record["pair"]] = _item(record, frame, drawn, self.names, self.rank)

    def _range(self, metric: str, frame: Any) -> float:
        """The MAX the map is drawn with: the PSNR peak of the run for squared error."""
        if metric != "psnr":
            return float(frame.max_value)
        from iqa.video.psnr import peak_value

        return float(peak_value(frame.bits, self.settings.peak))

    def _write(self, key: str, index: int, drawn: dict[str, tuple]) -> None:
        from iqa.output.files import write_file_bytes
        from iqa.video.worst import clip_map_name

        for metric, (index_map, _, _) in drawn.items():
            if metric not in self._legends:
                self._legends.add(metric)
                write_file_bytes(os.path.join(self.maps_dir, legend_name(metric)),
                                 png_bytes(legend(metric)), self.protected)
            write_file_bytes(os.path.join(self.maps_dir, clip_map_name(key, index, metric)),
                             palette_png(index_map), self.protected)

    def worst(self) -> list[dict[str, Any]]:
        """The worst clips' page items, worst first."""
        return [self._items[r["pair"]] for _, _, r in self._ranked if r["pair"] in self._items]


def _item(record: dict[str, Any], frame: Any, drawn: dict[str, tuple], names: Sequence[str],
          rank: str) -> dict[str, Any]:
    """The report's pictures of one clip's worst frame (Y planes, maps, worst region)."""
    from iqa.output.html.compare import pair_item
    from iqa.output.visuals import _pictures

    kept = _pictures({m: drawn[m] for m in MAP_METRICS if m in drawn})
    item = pair_item(record, kept, (frame.ref, frame.max_value), (frame.dist, frame.max_value),
                     names)
    item["title"] = f"{record['pair']}, frame {frame.index} (Y plane, lowest {rank})"
    item["ref_name"] = f"{record['ref']} frame {frame.index} Y"
    item["dist_name"] = f"{record['dist']} frame {frame.index} Y"
    return item


def start_clip_visuals(*, maps_dir: str | None, html: str | None, worst: int,
                       names: Sequence[str], settings: Any,
                       inputs: Sequence[str], keys: Sequence[str] = ()) -> ClipVisuals | None:
    """The sink for ``--maps DIR`` / ``--html FILE`` over clips (``None`` without both);
    ``DIR`` is created if missing, a ``DIR`` that is a file is refused (``UsageError``), and
    so is an input that a map of one of the pairs ``keys`` could replace (whatever its
    frame number), before any work."""
    if maps_dir is None and html is None:
        return None
    from iqa.output.maps import input_identities
    from iqa.output.visuals import prepare_maps_dir
    from iqa.video.worst import rank_value

    protected = input_identities(list(inputs))
    if maps_dir is not None:
        prepare_maps_dir(maps_dir)
        _check_map_targets(maps_dir, keys, protected)
    return ClipVisuals(maps_dir=maps_dir, keep=worst if html is not None else 0,
                       rank=rank_value(names), names=names, settings=settings,
                       protected=protected)


def _check_map_targets(folder: str, keys: Sequence[str],
                       protected: set[tuple[int, int]]) -> None:
    import re

    from iqa.errors import UsageError
    from iqa.output.maps import input_identities

    wanted = {legend_name(m) for m in ("ssim", "psnr")}
    pattern = re.compile("|".join(re.escape(k) + r"\.frame[0-9]+\.(ssim|psnr)_y\.png"
                                  for k in keys) or "(?!)")
    for name in sorted(os.listdir(folder)):
        if name not in wanted and not pattern.fullmatch(name):
            continue
        path = os.path.join(folder, name)
        if input_identities([path]) & protected:
            raise UsageError(f"--maps {folder}: a map would replace the input {path}; "
                             "choose another folder for the maps")

