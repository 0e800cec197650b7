"""The folded FID Inception against pytorch-fid's InceptionV3, on the real weights."""

import numpy as np
import pytest
import torch

from iqa.distribution.preprocess import resize_tf
from iqa.features.inception import build_inception, expected_shapes
from tests.fid_helpers import natural_crops, pytorch_fid_network


def test_expected_shapes_are_pytorch_fids_layout():
    import torchvision

    # pytorch-fid's FID blocks subclass torchvision's with the same parameters.
    tv = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None,
                                         init_weights=False)
    reference = {k: tuple(v.shape) for k, v in tv.state_dict().items()}
    required, optional = expected_shapes()
    assert {**required, **optional} == reference
    assert set(optional) == {"fc.weight", "fc.bias"} | {
        k for k in reference if k.endswith("num_batches_tracked")}


@pytest.fixture(scope="module")
def networks(fid_weights):
    from iqa.weights import from_file, load_state_dict

    ours = build_inception(load_state_dict(from_file(fid_weights, name="fid-inception")))
    return ours, pytorch_fid_network(fid_weights)


@pytest.fixture(scope="module")
def inputs():
    natural = torch.stack([resize_tf(c) for c in natural_crops(6, seed=4)])
    noise = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return torch.cat([natural, noise])


def test_features_equal_pytorch_fid_inception(networks, inputs):
    ours, reference = networks
    with torch.no_grad():
        expected = reference(inputs)[0].flatten(1)
    got = ours(inputs)
    assert got.shape == (8, 2048) and got.dtype == torch.float32
    # Folding batch norm and merging 1x1 convolutions moves features by ~1e-6 relative;
    # the default path may move them by at most 1e-4.
    relative = ((got - expected).abs().max() / expected.abs().max()).item()
    assert relative < 2e-5, relative
    assert (got >= 0).all()  # pool3 of ReLU outputs


def test_features_do_not_depend_on_the_batch(networks, inputs):
    ours, _ = networks
    whole = ours(inputs)
    single = torch.cat([ours(inputs[i:i + 1]) for i in range(len(inputs))])
    scale = whole.abs().max()
    assert ((single - whole).abs().max() / scale).item() < 1e-6


def test_real_weights_file_fits_the_architecture(fid_weights):
    state = torch.load(fid_weights, map_location="cpu", weights_only=True)
    required, optional = expected_shapes()
    assert set(required) <= set(state) <= set(required) | set(optional)
    for key, tensor in state.items():
        assert tuple(tensor.shape) == {**required, **optional}[key], key
    assert np.isfinite(state["Mixed_7c.branch_pool.conv.weight"].numpy()).all()
