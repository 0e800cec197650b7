"""VGG-16 features for precision/recall against torch-fidelity 0.4's ``vgg16`` extractor
(``FeatureExtractorVGG16``, feature ``fc2_relu``) built from the same seeded random weights,
and precision/recall on those features against torch-fidelity's ``prc`` math."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
from torch_fidelity.metric_prc import calculate_precision_recall_full

from iqa.errors import WeightsError
from iqa.features.vgg16_pr import VGG16Features
from iqa.genmetrics import precision_recall


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory):
    torch.manual_seed(0)
    state = torchvision.models.vgg16(weights=None).state_dict()
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(state, path)
    return path


def _images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 61, 83), dtype=torch.uint8, generator=g)


def test_features_equal_torch_fidelity(random_vgg):
    state = torch.load(random_vgg, weights_only=True)
    ours = VGG16Features(state)
    theirs = FeatureExtractorVGG16(
        "vgg16", ["fc2_relu"], feature_extractor_weights_path=str(random_vgg)
    )
    real, fake = _images(8, 1), _images(8, 2)

    def iqa_features(images: torch.Tensor) -> np.ndarray:
        resized = interpolate_bilinear_2d_like_tensorflow1x(
            images.float(), size=(224, 224), align_corners=False
        )
        return ours(resized).numpy()

    ours_real, ours_fake = iqa_features(real), iqa_features(fake)
    with torch.no_grad():
        ref_real, ref_fake = theirs(real)[0].numpy(), theirs(fake)[0].numpy()
    assert ours_real.shape == (8, 4096)
    np.testing.assert_allclose(ours_real, ref_real, rtol=1e-5, atol=1e-6 * np.abs(ref_real).max())
    np.testing.assert_allclose(ours_fake, ref_fake, rtol=1e-5, atol=1e-6 * np.abs(ref_fake).max())
    p, r = calculate_precision_recall_full(
        torch.from_numpy(ref_fake).double(), torch.from_numpy(ref_real).double(), 3
    )
    assert precision_recall(ours_real, ours_fake) == pytest.approx((p, r), abs=1e-6)


def test_weights_without_the_classifier_are_refused(random_vgg):
    state = torch.load(random_vgg, weights_only=True)
    del state["classifier.3.weight"]
    with pytest.raises(WeightsError, match="classifier.3.weight"):
        VGG16Features(state)
