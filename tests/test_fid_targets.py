"""``iqa fid`` checks where it will write (-o, --save-stats, --junit) before any work."""

import os

import numpy as np
import pytest

from tests.cli_helpers import run_iqa
from tests.fid_helpers import make_pair


@pytest.fixture
def pair(tmp_path):
    return make_pair(tmp_path / "sets", 2, seed=4, square=40)


def _refused_before_work(result, *needles):
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no progress or "N images in" lines: no work done
    for needle in needles:
        assert needle in lines[0], lines[0]


def _cache_entries() -> set[str]:
    folder = os.path.join(os.environ["IQA_CACHE_DIR"], "fid-stats")
    return set(os.listdir(folder)) if os.path.isdir(folder) else set()


def test_output_in_a_missing_folder(pair, tmp_path, fid_weights):
    real, fake = pair
    target = tmp_path / "nowhere" / "fid.json"
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--no-cache", "-o", target)
    _refused_before_work(result, "-o", "does not exist")


def test_output_that_is_a_directory(pair, tmp_path, fid_weights):
    real, fake = pair
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--no-cache",
                     "-o", tmp_path)
    _refused_before_work(result, "-o", "is a folder")


def test_output_that_is_an_input(pair, tmp_path, fid_weights):
    real, fake = pair
    victim = sorted(fake.iterdir())[0]
    before = victim.read_bytes()
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--no-cache", "-o", victim)
    _refused_before_work(result, "-o", "is one of the inputs")
    assert victim.read_bytes() == before


def test_output_that_is_an_input_statistics_file(tmp_path):
    d = 2048
    rng = np.random.default_rng(0)
    paths = []
    for name in ("a.npz", "b.npz"):
        f = np.abs(rng.normal(size=(4, d)))
        np.savez(tmp_path / name, mu=f.mean(0), sigma=np.cov(f, rowvar=False), n=np.array(4))
        paths.append(tmp_path / name)
    before = paths[0].read_bytes()
    result = run_iqa("fid", *paths, "--format", "json", "-o", paths[0])
    _refused_before_work(result, "-o", "is the input", "would destroy it")
    assert paths[0].read_bytes() == before


def test_save_stats_into_a_missing_folder_or_onto_a_folder(pair, tmp_path, fid_weights):
    real, _ = pair
    before = _cache_entries()
    missing = run_iqa("fid", real, "--weights", fid_weights, "--save-stats",
                      tmp_path / "no" / "x.npz")
    _refused_before_work(missing, "--save-stats", "does not exist")
    folder = tmp_path / "x.npz"
    folder.mkdir()
    onto = run_iqa("fid", real, "--weights", fid_weights, "--save-stats", folder)
    _refused_before_work(onto, "--save-stats", "is a folder")
    text = run_iqa("fid", real, "--weights", fid_weights, "--save-stats", tmp_path / "x.txt")
    _refused_before_work(text, "--save-stats", "must end with .npz")
    assert _cache_entries() == before  # nothing was computed


def test_save_stats_into_the_measured_folder_is_refused(pair, fid_weights):
    real, _ = pair
    result = run_iqa("fid", real, "--weights", fid_weights, "--save-stats", real / "x.npz",
                     "-o", real / "img_000.png")
    _refused_before_work(result, "-o", "is one of the inputs")


def test_a_new_image_file_in_a_measured_folder_is_refused(pair, tmp_path, fid_weights):
    """A report named like an image inside a set would join the set on the next run."""
    real, fake = pair
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--no-cache",
                     "-o", fake / "sub" / ".." / "new.png")
    _refused_before_work(result, "-o", "is one of the inputs", "write the result elsewhere")
    assert not (fake / "new.png").exists()
