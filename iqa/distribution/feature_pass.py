"""One decode pass over a folder feeding several feature extractors.

Each file is decoded once (by the same :class:`~iqa.distribution.data.ImageFiles` as the
FID pipeline, sending 8-bit pixels), and every extractor of
:mod:`iqa.features.registry` given here preprocesses and embeds the batch on its
device. Features are kept (float32, N×dim per extractor): the k-NN metrics, KID and CMMD
need each image's vector.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqa.distribution.companions import Companions
from iqa.distribution.data import DecodeSettings, ImageFiles, batches
from iqa.errors import InputError


@dataclass
class FeaturePass:
    """The features of one list of files, per extractor name."""

    features: dict[str, np.ndarray]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def extract_features(
    paths: Sequence[str],
    extractors: Mapping[str, Any],
    settings: DecodeSettings,
    *,
    batch_size: int = 16,
    workers: int | None = None,
    skip_bad: bool = False,
    advance: Callable[[int], None] | None = None,
) -> FeaturePass:
    """Features of ``paths`` from each extractor (a
    :class:`~iqa.features.extractor.FeatureExtractor` by name), one decode per file.

    A file that cannot be decoded raises :class:`~iqa.errors.InputError`, or with
    ``skip_bad`` is left out of every extractor's features alike.
    """
    dataset = ImageFiles(paths, settings, raw=True)
    loader = batches(dataset, batch_size, workers)  # workers None: threads between batches
    companions = Companions(extractors, chunk=batch_size)
    result = FeaturePass({})
    start = time.perf_counter()
    for batch, errors, count in loader:
        for index, error in errors:
            if not skip_bad:
                raise InputError(f"{error}; remove or replace the file, or leave unreadable "
                                 "files out with --skip-bad", dataset.paths[index])
            result.skipped.append((dataset.paths[index], error))
        if batch is not None:
            companions.add(batch)
        if advance is not None:
            advance(count)
    result.features = companions.features()
    result.seconds = time.perf_counter() - start
    return result
