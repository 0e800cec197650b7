"""Shared fixtures.

``fid_weights`` is the real FID Inception state dict (pytorch-fid key layout) named by
``IQA_TEST_FID_WEIGHTS``. Tests that need it skip when it is absent, except when
``IQA_REQUIRE_REAL_WEIGHTS=1`` (set by CI), where its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fid_weights() -> Path:
    value = os.environ.get("IQA_TEST_FID_WEIGHTS", "")
    path = Path(value) if value else None
    if path is None or not path.is_file():
        message = f"real FID weights not found (IQA_TEST_FID_WEIGHTS={value!r})"
        if os.environ.get("IQA_REQUIRE_REAL_WEIGHTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Never touch the user's caches: torch hub and iqa's own cache go to a temp folder."""
    root = tmp_path_factory.getbasetemp() / "caches"
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(root / "iqa"))
    monkeypatch.setenv("IQA_OFFLINE", "1")


LPIPS_TRUNKS = {"alex": "alexnet", "squeeze": "squeezenet1_1", "vgg": "vgg16"}


@pytest.fixture(scope="session")
def backbones(tmp_path_factory):
    """Seeded random LPIPS trunks, imported --unverified into the tests' shared caches.

    No ImageNet weights can be downloaded where the tests run; this is the path a user
    with converted weights takes (``iqa weights import NAME FILE --unverified``).
    Returns {net: torchvision state dict}.
    """
    import torch
    import torchvision

    from iqa.weights import import_file

    root = tmp_path_factory.getbasetemp() / "caches"
    folder = tmp_path_factory.mktemp("backbones")
    states = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setenv("IQA_CACHE_DIR", str(root / "iqa"))
        for net, tv_name in LPIPS_TRUNKS.items():
            torch.manual_seed(sum(map(ord, net)))
            state = getattr(torchvision.models, tv_name)(weights=None).state_dict()
            path = folder / f"{tv_name}-converted.pth"
            torch.save(state, path)
            result = import_file(tv_name, path, unverified=True)
            assert not result.verified
            states[net] = state
    return states


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Fresh, empty weights caches for one test, downloads allowed (a test module that
    needs them off defines its own ``caches``)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "iqa"))
    monkeypatch.delenv("IQA_OFFLINE", raising=False)
    monkeypatch.setenv("IQA_DOWNLOAD_TIMEOUT", "2")
    return tmp_path
