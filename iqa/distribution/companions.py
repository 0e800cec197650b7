"""Extractors that ride along a decode pass: each batch of decoded 8-bit pixels is
embedded by every one of them, so a run that needs the FID Inception and, say,
DINOv2 features decodes each file once (:func:`iqa.distribution.data.extract`,
:func:`iqa.distribution.feature_pass.extract_features`).

Pixels arrive as uint8 N×3×H×W tensors on the CPU, or as a list of 3×H×W tensors
when a batch mixes sizes (each image is then embedded on its own, as its reference
tool does). Each extractor preprocesses and runs on its own device, at most ``chunk``
images at a time; the features are kept (float32, N×dim each): the metrics that use
them (k-NN, KID, CMMD, FD on other features) need every image's vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class Companions:
    """Feature extractors by name, and the features they have produced so far."""

    def __init__(self, extractors: Mapping[str, Any], chunk: int = 64) -> None:
        self.extractors = dict(extractors)
        self.chunk = max(1, chunk)
        self._kept: dict[str, list[Any]] = {name: [] for name in self.extractors}

    def __bool__(self) -> bool:
        return bool(self.extractors)

    def add(self, pixels: Any) -> None:
        """Embed one batch of decoded pixels with every extractor."""
        import torch

        for name, extractor in self.extractors.items():
            if isinstance(pixels, list):  # mixed sizes: each image on its own
                parts = [extractor.features(t[None]) for t in pixels]
            else:
                parts = [extractor.features(c) for c in pixels.split(self.chunk)]
            self._kept[name].append(torch.cat(parts).float().cpu())

    def features(self) -> dict[str, np.ndarray]:
        """Each extractor's features of every image added, in order (N×dim float32)."""
        import torch

        out = {}
        for name, extractor in self.extractors.items():
            parts = self._kept[name]
            out[name] = (torch.cat(parts).numpy() if parts else
                         np.zeros((0, extractor.info.dim), np.float32))
        return out
