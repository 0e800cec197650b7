"""The statistics cache is keyed on what a writer cannot keep (issue: stale cache entries).

``cp -p``, ``rsync -a`` and ``touch -r`` rewrite a file and restore its size and
modification time; the cache must still see that the file changed.
"""

import os

import numpy as np
import pytest
from PIL import Image

from iqa.distribution.statscache import StatsCache
from iqa.errors import UsageError
from tests.cli_helpers import run_iqa, strict_json
from tests.fid_helpers import make_pair


def _rewrite_keeping_size_and_mtime(path, pixels) -> None:
    """Write new pixels into ``path`` with the same byte size, then restore its mtime."""
    before = os.stat(path)
    Image.fromarray(pixels).save(path, compress_level=0)
    assert os.stat(path).st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # touch -r


def _raw_set(folder, count, seed):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    images = [rng.integers(0, 256, (32, 40, 3), dtype=np.uint8) for _ in range(count)]
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i}.png", compress_level=0)
    return sorted(folder.iterdir())


def test_rewrite_with_size_and_mtime_kept_makes_the_entry_stale(tmp_path):
    files = _raw_set(tmp_path / "set", 3, seed=1)
    before = StatsCache(tmp_path / "set", files, {"x": 1}).key
    pixels = np.random.default_rng(9).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    _rewrite_keeping_size_and_mtime(files[1], pixels)
    after = StatsCache(tmp_path / "set", files, {"x": 1}).key
    assert after != before


def test_content_mode_keys_on_bytes_only(tmp_path, monkeypatch):
    files = _raw_set(tmp_path / "set", 3, seed=2)
    monkeypatch.setenv("IQA_CACHE_KEY", "content")
    before = StatsCache(tmp_path / "set", files, {"x": 1}).key
    os.utime(files[0], ns=(1, 1))  # metadata only: same content, same key
    data = files[2].read_bytes()
    files[2].unlink()
    files[2].write_bytes(data)  # a new inode and ctime, same bytes
    assert StatsCache(tmp_path / "set", files, {"x": 1}).key == before
    pixels = np.random.default_rng(9).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    _rewrite_keeping_size_and_mtime(files[1], pixels)
    assert StatsCache(tmp_path / "set", files, {"x": 1}).key != before
    # The two modes never share an entry's key.
    monkeypatch.setenv("IQA_CACHE_KEY", "stat")
    assert StatsCache(tmp_path / "set", files, {"x": 1}).key != before


def test_unknown_cache_key_mode_is_a_usage_error(tmp_path, monkeypatch):
    files = _raw_set(tmp_path / "set", 2, seed=3)
    monkeypatch.setenv("IQA_CACHE_KEY", "mtime")
    with pytest.raises(UsageError, match="IQA_CACHE_KEY"):
        StatsCache(tmp_path / "set", files, {"x": 1})


@pytest.mark.parametrize("mode", ["stat", "content"])
def test_cli_recomputes_after_touch_r(tmp_path, fid_weights, mode):
    real, fake = make_pair(tmp_path, 3, seed=11, square=48)
    for path in list(fake.iterdir()):  # uncompressed PNGs: equal sizes for new pixels
        Image.open(path).save(path, compress_level=0)
    common = ("fid", real, fake, "--weights", fid_weights, "--format", "json",
              "--cache-key", mode)
    first = run_iqa(*common)
    assert first.returncode == 0, first.stderr
    target = sorted(fake.iterdir())[0]
    pixels = np.random.default_rng(5).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    _rewrite_keeping_size_and_mtime(target, pixels)
    second = run_iqa(*common)
    assert second.returncode == 0, second.stderr
    assert strict_json(second.stdout)["sources"]["fake"] == "images"
    truth = run_iqa(*common[:-2], "--no-cache")
    assert strict_json(second.stdout)["fid"] == strict_json(truth.stdout)["fid"]
    assert strict_json(second.stdout)["fid"] != strict_json(first.stdout)["fid"]
    third = run_iqa(*common)
    assert strict_json(third.stdout)["sources"] == {"real": "cache", "fake": "cache"}
