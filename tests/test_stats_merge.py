"""``iqa stats merge`` / ``iqa stats show``: statistics of parts merge into the whole set's.

12 images of 64×64 split 4 + 5 + 3; each part saved with ``iqa fid PART --save-stats``
(``--resize pytorch-fid``, ``--kid``), merged, and compared with the whole folder's
statistics from ``iqa fid`` (1e-12 relative: only the order of float64 additions
differs) and with pytorch-fid's ``calculate_activation_statistics`` on the whole folder.
"""

import json
import shutil

import numpy as np
import pytest

from tests.cli_helpers import run_iqa, strict_json
from tests.fid_helpers import natural_crops, pytorch_fid_weights, write_set

SPLIT = [(0, 4), (4, 9), (9, 12)]


@pytest.fixture(scope="module")
def parts(tmp_path_factory, fid_weights):
    root = tmp_path_factory.mktemp("statsmerge")
    files = write_set(root / "all", natural_crops(12, seed=3, square=64))
    saved = []
    for k, (a, b) in enumerate(SPLIT):
        folder = root / f"part{k}"
        folder.mkdir()
        for f in files[a:b]:
            shutil.copy(f, folder / f.name)
        target = root / f"part-{k:02d}.npz"
        result = run_iqa("fid", folder, "--save-stats", target, "--weights", fid_weights,
                         "--resize", "pytorch-fid", "--kid", "--no-cache")
        assert result.returncode == 0, result.stderr
        saved.append(target)
    whole = root / "whole.npz"
    result = run_iqa("fid", root / "all", "--save-stats", whole, "--weights", fid_weights,
                     "--resize", "pytorch-fid", "--kid", "--no-cache")
    assert result.returncode == 0, result.stderr
    return root, files, saved, whole


def _relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_merge_of_three_parts_equals_the_whole_folder_and_pytorch_fid(parts, fid_weights):
    root, files, saved, whole = parts
    merged = root / "merged.npz"
    result = run_iqa("stats", "merge", *saved, "-o", merged, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["n"] == 12 and doc["features"] == 12
    assert [p["n"] for p in doc["parts"]] == [4, 5, 3]
    with np.load(merged) as m, np.load(whole) as w:
        assert int(m["n"]) == 12
        assert _relative(m["mu"], w["mu"]) < 1e-12
        assert _relative(m["sigma"], w["sigma"]) < 1e-12
        np.testing.assert_array_equal(m["features"], w["features"])
        mu, sigma = m["mu"], m["sigma"]
    import pytorch_fid.fid_score as pf
    from pytorch_fid.inception import InceptionV3

    with pytorch_fid_weights(fid_weights):
        model = InceptionV3([3]).eval()
    ref_mu, ref_sigma = pf.calculate_activation_statistics(
        [str(f) for f in files], model, batch_size=12, dims=2048, device="cpu", num_workers=0)
    assert _relative(mu, ref_mu) < 1e-5
    assert _relative(sigma, ref_sigma) < 1e-5
    # and the merged file stands in for the folder: FID 0 against the folder itself
    fid = run_iqa("fid", merged, root / "all", "--weights", fid_weights, "--resize",
                  "pytorch-fid", "--format", "json")
    assert fid.returncode == 0, fid.stderr
    assert abs(strict_json(fid.stdout)["fid"]) < 1e-6


def test_show_names_count_network_preprocessing_and_weights(parts, fid_weights):
    _, _, saved, _ = parts
    result = run_iqa("stats", "show", saved[1], "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["n"] == 5 and doc["features"] == 5
    assert doc["network"].startswith("inception-v3-fid")
    assert doc["preprocessing"] == {"resize": "pytorch-fid", "alpha": "drop", "exif": False}
    import hashlib

    assert doc["weights"]["sha256"] == hashlib.sha256(fid_weights.read_bytes()).hexdigest()
    table = run_iqa("stats", "show", saved[1])
    assert table.returncode == 0
    assert "images" in table.stdout and "5" in table.stdout and "pytorch-fid" in table.stdout


def _rewrite(source, target, **changes):
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        if value is None:
            arrays.pop(key, None)
        elif key == "meta":
            meta.update(value)
        else:
            arrays[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(target, **arrays)


def _refused(result, *words):
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("iqa: ")
    for word in words:
        assert word in line, line


def test_merge_refuses_other_preprocessing_weights_missing_n_and_duplicates(parts, tmp_path):
    _, _, saved, _ = parts
    out = tmp_path / "out.npz"
    other = tmp_path / "tf.npz"
    _rewrite(saved[2], other, meta={"resize": "tf"})
    _refused(run_iqa("stats", "merge", saved[0], other, "-o", out), str(other), "resize")
    weights = tmp_path / "weights.npz"
    _rewrite(saved[2], weights, meta={"weights": {"name": "x", "sha256": "0" * 64}})
    _refused(run_iqa("stats", "merge", saved[0], weights, "-o", out), "weights_sha256")
    network = tmp_path / "net.npz"
    _rewrite(saved[2], network, meta={"network": "dinov2"})
    _refused(run_iqa("stats", "merge", saved[0], network, "-o", out), "network")
    no_n = tmp_path / "no_n.npz"
    _rewrite(saved[2], no_n, n=None)
    _refused(run_iqa("stats", "merge", saved[0], no_n, "-o", out), str(no_n), "without n")
    bare = tmp_path / "pytorch_fid.npz"
    with np.load(saved[2]) as data:
        np.savez(bare, mu=data["mu"], sigma=data["sigma"], n=data["n"])
    _refused(run_iqa("stats", "merge", saved[0], bare, "-o", out), "records no network")
    _refused(run_iqa("stats", "merge", saved[0], saved[0], "-o", out), "given twice")
    copy = tmp_path / "copy.npz"
    shutil.copy(saved[0], copy)
    _refused(run_iqa("stats", "merge", saved[0], copy, "-o", out), "counted twice")
    _refused(run_iqa("stats", "merge", saved[0], saved[1], "-o", saved[1]), "is the input")
    _refused(run_iqa("stats", "merge", saved[0], saved[1], "-o", tmp_path / "x.json"), ".npz")
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_merge_without_features_in_every_part_keeps_none(parts, tmp_path):
    _, _, saved, _ = parts
    plain = tmp_path / "plain.npz"
    _rewrite(saved[2], plain, features=None)
    out = tmp_path / "out.npz"
    result = run_iqa("stats", "merge", saved[0], plain, "-o", out, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert strict_json(result.stdout)["features"] is None
    with np.load(out) as data:
        assert "features" not in data.files and int(data["n"]) == 7


def test_statistics_files_get_the_mode_reports_get(parts, tmp_path):
    """Parts written by one user's jobs are merged by another: a new file has 0666 minus
    the umask (not the 0600 of the temporary file it is written through), and a replaced
    file keeps its mode."""
    import os
    import stat

    root, _, saved, _ = parts
    old = os.umask(0o022)  # the parts were written under the umask this returns
    try:
        assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~old for p in saved)
        merged = tmp_path / "all.npz"
        assert run_iqa("stats", "merge", *saved, "-o", merged).returncode == 0
        assert stat.S_IMODE(os.stat(merged).st_mode) == 0o644
        os.chmod(merged, 0o640)
        assert run_iqa("stats", "merge", *saved, "-o", merged).returncode == 0
        assert stat.S_IMODE(os.stat(merged).st_mode) == 0o640
    finally:
        os.umask(old)
