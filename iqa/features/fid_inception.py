"""The ``inception`` extractor: the FID Inception-v3's pool3 features (2048-d).

The network is :mod:`iqa.features.inception` (the TensorFlow 2015-12-05 graph as
pytorch-fid ported it); its three preprocessing modes are those of ``iqa fid --resize``
(:data:`iqa.distribution.preprocess.RESIZE_MODES`: ``tf`` as torch-fidelity and TTUR,
``pytorch-fid``, ``clean`` as clean-fid). FID, KID, the Inception Score (from the 1008-way
logits without bias, :func:`iqa.genmetrics.unbiased_logits`) and the ADM evaluator's
precision/recall use these features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iqa.distribution.preprocess import INPUT_SIZE, RESIZE_MODES
from iqa.features.extractor import ExtractorInfo, FeatureExtractor, Preprocessing
from iqa.features.inception import FEATURE_DIM, NETWORK_ID

WEIGHTS = "fid-inception"


class InceptionExtractor(FeatureExtractor):
    """uint8 images → pool3 features of the FID Inception."""

    info = ExtractorInfo(
        name="inception",
        dim=FEATURE_DIM,
        input_size=INPUT_SIZE,
        layer="pool3",
        network_id=NETWORK_ID,
        preprocessing=tuple(Preprocessing(m.name, m.description, m.reference)
                            for m in RESIZE_MODES.values()),
        weights=(WEIGHTS,),
        reference="Inception-v3, TF graph 2015-12-05 (Szegedy et al. 2016; Heusel et al. 2017)",
    )

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        from iqa.features.inception import build_inception

        super().__init__(states, device, preprocessing)
        self.network = build_inception(states[WEIGHTS], device=device)

    def preprocess(self, images: Any) -> Any:
        import torch

        mode = RESIZE_MODES[self.preprocessing]
        if mode.batch_fn is not None:
            return mode.batch_fn(images.to(self.device))
        pixels = images.permute(0, 2, 3, 1).cpu().numpy()  # Pillow works on H×W×3 arrays
        return torch.stack([mode.fn(p) for p in pixels]).to(self.device)

    def __call__(self, x: Any) -> Any:
        return self.network(x)
