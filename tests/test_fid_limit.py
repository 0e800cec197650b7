"""``iqa fid --limit N``: the first N files in sorted order, or a seeded random N."""

import shutil

import pytest

from tests.cli_helpers import run_iqa, strict_json
from tests.fid_helpers import make_pair


@pytest.fixture
def sets(tmp_path):
    return make_pair(tmp_path / "sets", 5, seed=14, square=32)


def test_limit_takes_the_first_files_in_sorted_order(sets, tmp_path, fid_weights):
    real, fake = sets
    limited = run_iqa("fid", real, fake, "--weights", fid_weights, "--limit", "3",
                      "--format", "json")
    assert limited.returncode == 0, limited.stderr
    doc = strict_json(limited.stdout)
    assert doc["counts"]["real"] == 3 and doc["counts"]["fake"] == 3
    assert doc["limit"] == {"count": 3, "seed": None, "selection": "first 3 in sorted order",
                            "available": {"real": 5, "fake": 5}}
    first = {}
    for side, folder in (("real", real), ("fake", fake)):
        first[side] = tmp_path / f"first_{side}"
        first[side].mkdir()
        for path in sorted(folder.iterdir())[:3]:
            shutil.copy(path, first[side])
    manual = run_iqa("fid", first["real"], first["fake"], "--weights", fid_weights,
                     "--format", "json", "--no-cache")
    assert strict_json(manual.stdout)["fid"] == pytest.approx(doc["fid"], rel=1e-12)
    full = run_iqa("fid", real, fake, "--weights", fid_weights, "--format", "json")
    full_doc = strict_json(full.stdout)
    assert full_doc["counts"]["real"] == 5 and "limit" not in full_doc


def test_seeded_random_limit_is_reproducible_and_recorded(sets, fid_weights):
    real, fake = sets
    args = ("fid", real, fake, "--weights", fid_weights, "--limit", "2", "--limit-seed", "7",
            "--format", "json")
    one, two = run_iqa(*args), run_iqa(*args)
    assert one.returncode == 0, one.stderr
    a, b = strict_json(one.stdout), strict_json(two.stdout)
    assert a["fid"] == b["fid"] and a["counts"]["real"] == 2
    assert a["limit"]["seed"] == 7 and a["limit"]["selection"] == "2 chosen at random (seed 7)"


def test_limit_must_be_at_least_two(sets, fid_weights):
    real, fake = sets
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--limit", "1")
    assert result.returncode == 2 and "--limit" in result.stderr
    seed_alone = run_iqa("fid", real, fake, "--weights", fid_weights, "--limit-seed", "3")
    assert seed_alone.returncode == 2 and "--limit-seed" in seed_alone.stderr
