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
