"""The CLIP extractors against the reference tools, with seeded random weights.

* ``clip-vit-b-32``: features equal torch-fidelity 0.4's ``FeatureExtractorCLIP`` loading
  the same TorchScript archive (saved here as OpenAI's are: traced, float16), through the
  weights manager's archive reader; both preprocessing modes bit-exact against clean-fid's
  and torch-fidelity's own transforms.
* ``clip-vit-l-14-336``: embeddings equal torch-fidelity's CLIP ViT-L/14@336px tower
  (OpenAI's architecture) on the same random state dict, then L2-normalised; preprocessing
  bit-exact against google-research's CMMD steps run with JAX as the reference runs them.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest
import torch

from iqa.features import clip_vit_b_32, clip_vit_l_14_336


def _images(seed: int, n: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), generator=g, dtype=torch.uint8)


@pytest.fixture(scope="module")
def b32_archive(tmp_path_factory):
    """A full-size ViT-B/32 CLIP archive with random weights, in OpenAI's format."""
    from torch_fidelity.feature_extractor_clip import VisionTransformer

    class Clip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = VisionTransformer(224, 32, 768, 12, 12, 512)
            self.text_projection = torch.nn.Parameter(torch.randn(512, 512) * 0.02)

        def forward(self, x):
            return self.visual(x)

    torch.manual_seed(1)
    model = Clip().eval()
    with torch.no_grad():  # LayerNorms away from the identity
        for name, p in model.named_parameters():
            if "ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, torch.zeros(1, 3, 224, 224)).half()
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    traced.save(str(path))
    return path


@pytest.fixture(scope="module")
def b32_states(b32_archive):
    from iqa.weights import from_file, load_state_dict

    weights = from_file(b32_archive, name=clip_vit_b_32.NAME)
    assert not weights.verified
    return {clip_vit_b_32.NAME: load_state_dict(weights)}


def test_b32_features_equal_torch_fidelity(b32_archive, b32_states):
    from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = FeatureExtractorCLIP("clip-vit-b-32", ["clip"],
                                   feature_extractor_weights_path=str(b32_archive))
    ours = clip_vit_b_32.ClipViTB32Extractor(b32_states, preprocessing="torch-fidelity")
    images = _images(0, 3, 61, 47)
    with torch.no_grad():
        (expected,) = ref(images)
    got = ours.features(images)
    assert got.shape == (3, 512) and got.dtype == torch.float32
    scale = float(expected.abs().max())
    assert scale > 0.1
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-5 * scale)


def test_b32_torch_fidelity_preprocessing_is_bit_exact(b32_states):
    import torchvision
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    images = _images(1, 2, 300, 250)
    x = interpolate_bilinear_2d_like_tensorflow1x(images.to(torch.float32), size=(224, 224),
                                                  align_corners=False)
    expected = torchvision.transforms.functional.normalize(
        x, (255 * 0.48145466, 255 * 0.4578275, 255 * 0.40821073),
        (255 * 0.26862954, 255 * 0.26130258, 255 * 0.27577711), inplace=False)
    assert torch.equal(clip_vit_b_32.torch_fidelity_pixels(images), expected)


def test_b32_clean_fid_preprocessing_is_bit_exact(monkeypatch):
    # cleanfid.clip_features imports OpenAI's `clip` package at the top; only its
    # transforms are used here, with a network that returns its input.
    monkeypatch.setitem(sys.modules, "clip", types.ModuleType("clip"))
    monkeypatch.delitem(sys.modules, "cleanfid.clip_features", raising=False)
    import torchvision
    from cleanfid.clip_features import CLIP_fx, img_preprocess_clip

    fx = CLIP_fx.__new__(CLIP_fx)
    fx.model = types.SimpleNamespace(encode_image=lambda x: x)
    for images in (_images(2, 2, 300, 250), _images(3, 1, 97, 131), _images(4, 1, 224, 224)):
        expected = []
        for pixels in images.permute(0, 2, 3, 1).numpy():
            # cleanfid.utils.ResizeDataset.__getitem__ with fn_resize = img_preprocess_clip
            resized = img_preprocess_clip(pixels)
            img_t = torchvision.transforms.ToTensor()(np.array(resized)) * 255
            expected.append(fx(img_t)[0])
        assert torch.equal(clip_vit_b_32.clean_fid_pixels(images), torch.stack(expected))


def _cmmd_reference(images: np.ndarray) -> np.ndarray:
    """google-research cmmd io_util + embedding preprocessing, on N×H×W×3 uint8 arrays."""
    import jax
    from PIL import Image

    def center_crop_and_resize(im, size):  # io_util._center_crop_and_resize
        w, h = im.size
        side = min(w, h)
        top = (h - side) // 2
        left = (w - side) // 2
        im = im.crop((left, top, left + side, top + side))
        return im.resize((size, size), resample=Image.BICUBIC)

    batch = np.stack([np.asarray(center_crop_and_resize(Image.fromarray(a), 336))
                      .astype(np.float32) for a in images])
    batch = batch / 255.0
    image_mean = np.array([0.48145466, 0.4578275, 0.40821073])  # scenic clip IMAGE_MEAN
    image_std = np.array([0.26862954, 0.26130258, 0.27577711])

    @jax.jit
    def preprocess(x):  # embedding._clip_preprocess
        x = jax.image.resize(x, shape=x.shape[:-3] + (336, 336, x.shape[-1]), method="bicubic")
        return (x - image_mean) / image_std

    return np.asarray(preprocess(batch)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape", [(2, 37, 50), (1, 400, 341), (1, 336, 336)])
def test_cmmd_preprocessing_is_bit_exact_against_jax(shape):
    images = _images(5, shape[0], *shape[1:])
    expected = _cmmd_reference(images.permute(0, 2, 3, 1).numpy())
    got = clip_vit_l_14_336.cmmd_pixels(images).numpy()
    assert got.dtype == np.float32 and got.shape == (shape[0], 3, 336, 336)
    np.testing.assert_array_equal(got, expected)


def test_l14_336_embeddings_equal_torch_fidelity_normalised():
    from torch_fidelity.feature_extractor_clip import CLIPVisual

    torch.manual_seed(2)
    ref = CLIPVisual(768, 336, 24, 1024, 14).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if "ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    state = {k[len("visual."):]: v.detach().clone() for k, v in ref.state_dict().items()}
    ours = clip_vit_l_14_336.ClipViTL14336Extractor({clip_vit_l_14_336.NAME: state})
    x = clip_vit_l_14_336.cmmd_pixels(_images(6, 2, 70, 90))
    with torch.no_grad():
        raw = ref.visual(x)
    expected = raw / raw.norm(dim=-1, keepdim=True)
    got = ours(x)
    assert got.shape == (2, 768)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(2), rtol=0, atol=1e-6)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)
