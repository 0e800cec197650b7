"""The library reports what the CLI prints as warnings through Python's ``warnings``."""

import warnings

import numpy as np
import pytest

import iqa
from iqa.distribution.run import FIDWarning
from tests.fid_helpers import make_pair


def test_fid_api_warns_about_unverified_weights_and_few_images(tmp_path, fid_weights):
    real, fake = make_pair(tmp_path, 2, seed=12, square=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = iqa.fid(real, fake, weights=fid_weights, cache=False)
    assert np.isfinite(value)
    messages = [str(w.message) for w in caught if issubclass(w.category, FIDWarning)]
    assert any("unverified" in m for m in messages), messages
    assert any("rank-deficient" in m for m in messages), messages
    assert issubclass(FIDWarning, UserWarning)


def test_warnings_can_be_turned_into_errors(tmp_path):
    d = 2048
    paths = []
    for seed in (0, 1):
        f = np.abs(np.random.default_rng(seed).normal(size=(5, d)))
        np.savez(tmp_path / f"{seed}.npz", mu=f.mean(0), sigma=np.cov(f, rowvar=False),
                 n=np.array(5))
        paths.append(tmp_path / f"{seed}.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FIDWarning)
        with pytest.raises(FIDWarning, match="rank-deficient"):
            iqa.fid(*paths)
