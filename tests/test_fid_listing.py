"""Which files each reference tool reads in a folder, against the tools' own listing
code, and the warning `iqa fid` gives when it reads other files than the tool its
--resize mode reproduces."""

from __future__ import annotations

import os
from glob import glob
from pathlib import Path

import pytest

from iqa.distribution.listing import listing_note, reference_files
from iqa.io.pairing import list_images


@pytest.fixture
def odd_folder(tmp_path):
    """Names that the tools list differently: case, hidden files and folders, sub-folders,
    suffixes only some read, a folder named like an image, links."""
    root = tmp_path / "set"
    root.mkdir()
    for name in ("a.png", "b.jpg", "c.jpeg", "UPPER.PNG", "mixed.Jpg", "d.webp", "e.bmp",
                 "f.tif", "g.tiff", "h.ppm", "i.pgm", "j.npy", ".hidden.png", "k.JPEG",
                 "l.txt", "m.png.bak", ".png", "n.jfif"):
        (root / name).write_bytes(b"x")
    for sub in ("sub", ".hiddendir"):
        (root / sub).mkdir()
        (root / sub / "deep.png").write_bytes(b"x")
        (root / sub / "deep.PNG").write_bytes(b"x")
    (root / "dir.png").mkdir()
    (root / "dir.png" / "inner.jpg").write_bytes(b"x")
    (root / "link.png").symlink_to(root / "a.png")
    (root / "sublink").symlink_to(root / "sub")
    return root


def _real(paths):
    return {os.path.realpath(p) for p in paths}


def test_torch_fidelity_listing(odd_folder):
    from torch_fidelity.utils import glob_samples_paths

    theirs = glob_samples_paths(str(odd_folder), False, "png,jpg,jpeg", verbose=False)
    assert reference_files(odd_folder, "tf") == _real(theirs)


def test_pytorch_fid_listing(odd_folder):
    from pytorch_fid.fid_score import IMAGE_EXTENSIONS

    # compute_statistics_of_path's own expression
    theirs = sorted([file for ext in IMAGE_EXTENSIONS for file in odd_folder.glob(f"*.{ext}")])
    assert reference_files(odd_folder, "pytorch-fid") == _real(theirs)


def test_clean_fid_listing(odd_folder):
    from cleanfid.utils import EXTENSIONS

    # get_folder_features' own expression
    theirs = sorted([file for ext in EXTENSIONS
                     for file in glob(os.path.join(str(odd_folder), f"**/*.{ext}"),
                                      recursive=True)])
    assert reference_files(odd_folder, "clean") == _real(theirs)


def test_the_note_names_what_differs(odd_folder):
    files = list_images(odd_folder)
    note = listing_note("REAL", odd_folder, files, "tf")
    assert note is not None and "\n" not in note
    ours, theirs = {os.path.realpath(f) for f in files}, reference_files(odd_folder, "tf")
    assert f"iqa reads {len(ours)} files" in note
    assert f"torch-fidelity, whose FID --resize tf reproduces, would read {len(theirs)}" in note
    assert f"{len(ours - theirs)} only iqa reads" in note
    assert f"{len(theirs - ours)} only torch-fidelity reads (e.g. .hidden.png)" in note
    assert listing_note("REAL", odd_folder, files, "no-such-mode") is None


@pytest.mark.parametrize("mode", ["tf", "pytorch-fid", "clean"])
def test_no_note_on_a_plain_folder(tmp_path, mode):
    for i in range(3):
        (tmp_path / f"{i:03d}.png").write_bytes(b"x")
        (tmp_path / f"{i:03d}.jpg").write_bytes(b"x")
    assert listing_note("FAKE", tmp_path, list_images(tmp_path), mode) is None
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.png").write_bytes(b"x")
    note = listing_note("FAKE", tmp_path, list_images(tmp_path), mode)
    assert (note is None) == (mode == "clean")  # clean-fid also reads sub-folders
    if note:
        assert "1 only iqa reads (e.g. sub/x.png)" in note


def test_a_folder_path_with_glob_characters(tmp_path):
    root = tmp_path / "run[1]*"
    root.mkdir()
    for name in ("a.png", "b.png"):
        (root / name).write_bytes(b"x")
    assert reference_files(root, "clean") == _real(root / n for n in ("a.png", "b.png"))
    assert listing_note("REAL", root, list_images(Path(root)), "clean") is None


def test_kid_on_a_folder_of_links_draws_torch_fidelitys_subsets(tmp_path, fid_weights):
    """torch-fidelity sorts a set by its files' real paths; KID's subsets depend on the
    order, so a folder of links named in another order than their targets must give
    torch-fidelity's KID with the same seed (it gave another one, FID equal)."""
    import torch_fidelity

    from iqa.distribution.run import FIDOptions, compare_sets
    from tests.fid_helpers import make_pair

    real, fake = make_pair(tmp_path / "sets", 10, seed=3)
    links = tmp_path / "links"
    links.mkdir()
    targets = sorted(real.iterdir())
    for i, target in enumerate(reversed(targets)):
        (links / f"l_{i:02d}.png").symlink_to(target)
    options = FIDOptions(resize="tf", weights=str(fid_weights), cache=False, device="cpu",
                         kid=True, kid_subsets=4, kid_subset_size=6, seed=11)
    ours = compare_sets(links, fake, options)
    theirs = torch_fidelity.calculate_metrics(
        input1=str(fake), input2=str(links), fid=True, kid=True, kid_subsets=4,
        kid_subset_size=6, rng_seed=11, feature_extractor_weights_path=str(fid_weights),
        cuda=False, batch_size=1, save_cpu_ram=True, cache=False, verbose=False)
    assert ours.kid.mean == pytest.approx(theirs["kernel_inception_distance_mean"], abs=1e-6)
    assert ours.kid.std == pytest.approx(theirs["kernel_inception_distance_std"], abs=1e-6)
    assert ours.fid == pytest.approx(theirs["frechet_inception_distance"], abs=1e-3)


def test_a_run_warns_once_per_folder_that_its_tool_reads_otherwise(tmp_path, fid_weights):
    from iqa.distribution.options import Hooks
    from iqa.distribution.run import FIDOptions, compare_sets
    from tests.fid_helpers import make_pair

    real, fake = make_pair(tmp_path / "sets", 4, seed=5)
    (real / "sub").mkdir()
    (real / "sub" / "extra.png").write_bytes(next(real.glob("*.png")).read_bytes())
    warnings = []
    for mode in ("tf", "clean"):
        warnings.clear()
        options = FIDOptions(resize=mode, weights=str(fid_weights), cache=False, device="cpu")
        result = compare_sets(real, fake, options, Hooks(warn=warnings.append))
        assert result.real.n == 5
        notes = [w for w in warnings if "would read" in w]
        if mode == "tf":  # torch-fidelity reads the top folder only
            assert len(notes) == 1 and notes[0].startswith(f"REAL {real}: iqa reads 5 files")
            assert "1 only iqa reads (e.g. sub/extra.png)" in notes[0]
        else:  # clean-fid reads sub-folders too
            assert notes == []
    limited = FIDOptions(resize="tf", weights=str(fid_weights), cache=False, device="cpu",
                         limit=4)
    warnings.clear()
    compare_sets(real, fake, limited, Hooks(warn=warnings.append))
    assert not [w for w in warnings if "would read" in w]


def test_real_paths_equal_realpath(tmp_path):
    from iqa.distribution.listing import real_paths

    (tmp_path / "sub").mkdir()
    (tmp_path / "x").mkdir()
    for i in range(6):
        (tmp_path / "sub" / f"{i}.png").write_bytes(b"x")
    (tmp_path / "x" / "l.png").symlink_to(tmp_path / "sub" / "3.png")
    (tmp_path / "x" / "rel.png").symlink_to("../sub/4.png")
    (tmp_path / "lsub").symlink_to(tmp_path / "sub")
    files = [tmp_path / "sub" / "1.png", tmp_path / "x" / "l.png", tmp_path / "x" / "rel.png",
             tmp_path / "lsub" / "2.png", tmp_path / "x" / ".." / "lsub" / "5.png",
             Path(os.path.relpath(tmp_path / "sub" / "0.png")), tmp_path / "gone.png"]
    assert real_paths(files) == [os.path.realpath(f) for f in files]
