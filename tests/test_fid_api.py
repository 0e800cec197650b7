"""The FID pipeline in-process: cache, statistics files, batch/worker independence, KID.

Small sets (6 images each, mixed sizes) keep these fast; agreement with the reference
tools is tested in test_fid_reference.py.
"""

import os

import numpy as np
import pytest

import iqa
from iqa.distribution.run import FIDOptions, Hooks, compare_sets
from iqa.distribution.stats import FeatureStats
from iqa.distribution.statsfile import read_stats, write_stats
from iqa.errors import InputError, UsageError
from iqa.metrics.fid import FID
from tests.fid_helpers import make_pair


@pytest.fixture
def sets(tmp_path):
    return make_pair(tmp_path, 6, seed=3)


class Recorder(Hooks):
    def __init__(self) -> None:
        super().__init__(warn=self._warn, info=self._info)
        self.lines: list[str] = []

    def _warn(self, message: str) -> None:
        self.lines.append(f"warning: {message}")

    def _info(self, message: str) -> None:
        self.lines.append(message)

    def text(self) -> str:
        return "\n".join(self.lines)


def _run(real, fake, weights, hooks=None, **options):
    options = {"weights": str(weights), "device": "cpu", **options}
    return compare_sets(real, fake, FIDOptions(**options), hooks or Recorder())


def test_cache_hit_stale_and_corrupt_entries(sets, fid_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "cache"))  # this test's entries only
    real, fake = sets
    first = _run(real, fake, fid_weights)
    assert (first.real.source, first.fake.source) == ("images", "images")

    hooks = Recorder()
    second = _run(real, fake, fid_weights, hooks)
    assert (second.real.source, second.fake.source) == ("cache", "cache")
    assert second.fid == first.fid
    assert "from the cache" in hooks.text()

    # Touching one file makes that folder's entry stale; the other side still hits.
    target = fake / "img_002.png"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    hooks = Recorder()
    third = _run(real, fake, fid_weights, hooks)
    assert (third.real.source, third.fake.source) == ("cache", "images")
    assert "files changed" in hooks.text()
    assert third.fid == pytest.approx(first.fid, rel=1e-12)

    # A damaged entry is reported, never used, and replaced.
    entries = sorted((tmp_path / "cache" / "fid-stats").glob("*.npz"))
    assert len(entries) == 2
    for entry in entries:
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 0xFF
        entry.write_bytes(bytes(data))
    hooks = Recorder()
    fourth = _run(real, fake, fid_weights, hooks)
    assert (fourth.real.source, fourth.fake.source) == ("images", "images")
    assert hooks.text().count("unusable") == 2
    assert fourth.fid == pytest.approx(first.fid, rel=1e-12)
    assert _run(real, fake, fid_weights).real.source == "cache"

    # Another resize mode is another entry; cache=False neither reads nor writes.
    assert _run(real, fake, fid_weights, resize="clean", cache=False).real.source == "images"


def test_results_do_not_depend_on_batch_size_or_workers(sets, fid_weights):
    real, fake = sets
    a = _run(real, fake, fid_weights, cache=False, batch_size=1, workers=0)
    b = _run(real, fake, fid_weights, cache=False, batch_size=4, workers=2)
    c = _run(real, fake, fid_weights, cache=False, batch_size=5)  # CPU default: threads
    for other in (b, c):
        assert other.fid == pytest.approx(a.fid, rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(other.real.mean, a.real.mean, rtol=1e-6, atol=1e-9)


def test_stats_files_stand_in_for_folders(sets, fid_weights, tmp_path):
    real, fake = sets
    direct = _run(real, fake, fid_weights, cache=False, kid=True, kid_subset_size=6,
                  kid_subsets=3)
    path = tmp_path / "real.npz"
    write_stats(path, direct.real.stats, {"resize": "tf"}, direct.real.features)
    loaded = read_stats(path)
    assert loaded.n == 6 and loaded.meta["resize"] == "tf"
    via_file = _run(path, fake, fid_weights, kid=True, kid_subset_size=6, kid_subsets=3)
    assert via_file.real.source == "stats file"
    assert via_file.fid == pytest.approx(direct.fid, rel=1e-9)
    assert via_file.kid == pytest.approx(direct.kid, rel=1e-9)

    # Written with another resize mode: refused, not warned.
    write_stats(path, direct.real.stats, {"resize": "clean"})
    with pytest.raises(InputError, match="--resize clean.*--resize tf"):
        _run(path, fake, fid_weights, Recorder())
    with pytest.raises(UsageError, match="KID needs the features"):
        _run(path, fake, fid_weights, kid=True)


def test_pytorch_fid_npz_files_are_accepted(sets, fid_weights, tmp_path):
    real, fake = sets
    stats = FeatureStats.from_features(np.random.default_rng(0).random((10, 2048)))
    path = tmp_path / "pytorch_fid.npz"
    np.savez_compressed(path, mu=stats.mean, sigma=stats.cov)  # what pytorch-fid writes
    result = _run(path, path, fid_weights)
    assert result.fid == pytest.approx(0, abs=1e-6)
    assert result.real.n is None and result.weights is None  # no network was needed
    assert result.record()["counts"]["real"] is None


def test_python_api_returns_the_value(sets, fid_weights):
    real, fake = sets
    value = iqa.fid(real, fake, weights=fid_weights, device="cpu")
    assert value == pytest.approx(_run(real, fake, fid_weights).fid, rel=1e-12)
    kid = iqa.kid(real, fake, weights=fid_weights, device="cpu", subsets=2, subset_size=5)
    assert np.isfinite(kid.mean) and kid.std >= 0
    assert FID.info.name == "fid" and FID.info.higher_is_better is False
    assert FID.info.needs == "network:fid-inception" and "Heusel" in FID.info.definition


def test_bad_sets_raise_input_errors(tmp_path, fid_weights):
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    one = tmp_path / "one"
    make_pair(one, 1)
    (tmp_path / "x.png.txt").write_text("x")
    for path, message in [(tmp_path / "empty", "holds no images"),
                          (tmp_path / "texts", "holds no images"),
                          (one / "real", "holds 1 image"),
                          (tmp_path / "missing", "no such file or folder"),
                          (tmp_path / "x.png.txt", "expected a folder of images or a statistics")]:
        with pytest.raises(InputError, match=message):
            _run(path, path, fid_weights)


def test_two_statistics_files_are_labelled_as_they_were_made(tmp_path):
    """With two files and no folder, the result's resize mode, alpha policy and EXIF
    choice are what the files record: a run that would label them otherwise is refused
    (a baseline would then compare FIDs of two definitions)."""
    from iqa.features.inception import NETWORK_ID

    def fid_api(real, fake, **options):
        return compare_sets(real, fake, FIDOptions(device="cpu", **options), Recorder())

    rng = np.random.default_rng(1)
    paths = {}
    for label, offset in (("a", 0.0), ("b", 0.3)):
        stats = FeatureStats.from_features(rng.random((12, 2048)) + offset)
        for resize, alpha in (("clean", "drop"), ("tf", "black"), ("tf", "error")):
            path = tmp_path / f"{label}_{resize}_{alpha}.npz"
            write_stats(path, stats, {"network": NETWORK_ID, "resize": resize, "alpha": alpha,
                                      "exif": False})
            paths[label, resize, alpha] = path
    with pytest.raises(InputError, match="computed with --resize clean.*give --resize clean"):
        fid_api(paths["a", "clean", "drop"], paths["b", "clean", "drop"])
    clean = fid_api(paths["a", "clean", "drop"], paths["b", "clean", "drop"], resize="clean")
    record = clean.record()
    assert record["resize"] == "clean" and record["definitions"]["fid"]["resize"] == "clean"
    with pytest.raises(InputError, match="--alpha black.*give --alpha black"):
        fid_api(paths["a", "tf", "black"], paths["b", "tf", "black"])
    black = fid_api(paths["a", "tf", "black"], paths["b", "tf", "black"], alpha="black")
    assert black.record()["preprocessing"]["alpha"] == "black"
    # --alpha error read sets without transparency: every policy gives their pixels
    either = fid_api(paths["a", "tf", "error"], paths["b", "tf", "black"], alpha="black")
    assert either.fid == pytest.approx(black.fid, rel=1e-12)
    assert fid_api(paths["a", "clean", "drop"], paths["b", "clean", "drop"], resize="clean",
                   alpha="error").fid == clean.fid
