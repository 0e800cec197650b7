"""A feature extractor small enough to check by hand, registered only by the tests that
use it: each image's feature is the mean of each channel and the mean of each channel's
square (÷ 255), from its decoded 8-bit pixels (6 numbers, float32)."""

from __future__ import annotations

from typing import Any

from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing


class TinyExtractor(FeatureExtractor):
    info = ExtractorInfo(
        name="tiny", dim=6, input_size=0, layer="channel moments", network_id="tiny-moments",
        preprocessing=(Preprocessing("none", "the decoded 8-bit pixels", "numpy"),),
        weights=(), reference="tests")

    def preprocess(self, images: Any) -> Any:
        import torch

        return images.to(torch.float64)

    def __call__(self, x: Any) -> Any:
        import torch

        flat = x.flatten(2)
        return torch.cat([flat.mean(2), (flat * flat).mean(2) / 255]).reshape(
            2, -1, 3).permute(1, 0, 2).reshape(-1, 6).float()


def moments(pixels: Any) -> Any:
    """The same features of one H×W×3 uint8 array, in float64 by numpy."""
    import numpy as np

    x = pixels.reshape(-1, 3).astype(np.float64)
    return np.concatenate([x.mean(0), (x * x).mean(0) / 255])
