import os

import pytest
from PIL import Image

from iqa.errors import InputError, UsageError
from iqa.io.pairing import list_images, pair_inputs
from tests.cli_helpers import run_iqa
from tests.images import camera


def touch_image(path, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(camera()[:16, :16]).save(path, fmt)


def test_folders_pair_by_relative_path_recursively(tmp_path):
    for rel in ["a.png", "sub/b.png", "sub/deep/c.png", "only_ref.png"]:
        touch_image(tmp_path / "ref" / rel)
    for rel in ["a.png", "sub/b.png", "sub/deep/c.png", "only_dist.png", "sub/b.jpg"]:
        touch_image(tmp_path / "dist" / rel)
    (tmp_path / "dist" / "notes.txt").write_text("not an image")
    pairing = pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))
    assert [p.key for p in pairing.pairs] == ["a.png", "sub/b.png", "sub/deep/c.png"]
    assert pairing.ref_only == [str(tmp_path / "ref" / "only_ref.png")]
    assert sorted(pairing.dist_only) == sorted(
        [str(tmp_path / "dist" / "only_dist.png"), str(tmp_path / "dist" / "sub" / "b.jpg")]
    )


def test_pair_by_stem_across_suffixes(tmp_path):
    touch_image(tmp_path / "ref" / "x.png")
    touch_image(tmp_path / "ref" / "d" / "y.png")
    touch_image(tmp_path / "dist" / "x.jpg")
    touch_image(tmp_path / "dist" / "d" / "y.webp", "WEBP")
    pairing = pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"), pair_by="stem")
    assert [(p.key, p.dist.rsplit("/", 1)[-1]) for p in pairing.pairs] == [
        ("d/y", "y.webp"), ("x", "x.jpg")
    ]


def test_ambiguous_stems_are_an_error(tmp_path):
    touch_image(tmp_path / "ref" / "x.png")
    touch_image(tmp_path / "dist" / "x.png")
    touch_image(tmp_path / "dist" / "x.jpg")
    with pytest.raises(InputError, match="same name without suffix"):
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"), pair_by="stem")


def test_empty_folder_and_mixed_arguments(tmp_path):
    (tmp_path / "empty").mkdir()
    touch_image(tmp_path / "ref" / "a.png")
    with pytest.raises(InputError, match="empty: folder holds no images"):
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="folder"):
        pair_inputs(str(tmp_path / "ref" / "a.png"), str(tmp_path / "ref"))
    with pytest.raises(InputError, match="no such file or folder"):
        pair_inputs(str(tmp_path / "missing"), str(tmp_path / "ref"))


def test_one_reference_many_distorted(tmp_path):
    touch_image(tmp_path / "r.png")
    dists = [str(tmp_path / "q1.jpg"), str(tmp_path / "q2.jpg")]
    pairing = pair_inputs(str(tmp_path / "r.png"), dists)
    assert [p.key for p in pairing.pairs] == ["q1.jpg", "q2.jpg"]
    assert not pairing.folders


# --- symbolic links: followed, but each real folder once ------------------------------


def test_symlink_loop_does_not_multiply_pairs(tmp_path):
    for side in ("ref", "dist"):
        touch_image(tmp_path / side / "a.png")
        touch_image(tmp_path / side / "sub" / "b.png")
        (tmp_path / side / "sub" / "loop").symlink_to("..")
    pairing = pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))
    assert [p.key for p in pairing.pairs] == ["a.png", "sub/b.png"]
    assert not pairing.ref_only and not pairing.dist_only


def test_links_to_files_and_folders_are_followed_once(tmp_path):
    touch_image(tmp_path / "elsewhere" / "c.png")
    touch_image(tmp_path / "single.png")
    ref = tmp_path / "ref"
    touch_image(ref / "a.png")
    (ref / "link.png").symlink_to(tmp_path / "single.png")
    (ref / "x").symlink_to(tmp_path / "elsewhere")
    (ref / "y").symlink_to(tmp_path / "elsewhere")  # the same folder again: skipped
    names = [p.relative_to(ref).as_posix() for p in list_images(ref)]
    assert names == ["a.png", "link.png", "x/c.png"]


def test_fid_counts_each_image_once_through_a_loop(tmp_path):
    from iqa.distribution.run import plan_set

    for i in range(3):
        touch_image(tmp_path / "set" / f"{i}.png")
    (tmp_path / "set" / "again").symlink_to(".")
    assert len(plan_set(tmp_path / "set", need_features=False).files) == 3


def test_unreadable_sub_folder_is_reported_not_its_files(tmp_path, monkeypatch):
    for side in ("ref", "dist"):
        touch_image(tmp_path / side / "a.png")
        touch_image(tmp_path / side / "locked" / "b.png")
    locked = tmp_path / "dist" / "locked"
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, so deny the listing here
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError, match=r"dist/locked: folder cannot be read "
                                         r"\(Permission denied\)"):
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))


# --- unmatched files: summarised, with the --pair-by stem hint -------------------------


def test_nothing_pairs_by_path_but_by_stem_is_one_error(tmp_path):
    for i in range(40):
        touch_image(tmp_path / "ref" / f"img{i:02d}.png")
        touch_image(tmp_path / "dist" / f"img{i:02d}.jpg", "JPEG")
    with pytest.raises(InputError) as info:
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))
    text = str(info.value)
    assert "\n" not in text and "no image pairs by relative path" in text
    assert "40 of the 40 unmatched reference images" in text and "--pair-by stem" in text
    assert len(pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"),
                           pair_by="stem").pairs) == 40


def test_cli_nothing_pairs_says_pair_by_stem_in_one_line(tmp_path):
    for i in range(40):
        touch_image(tmp_path / "ref" / f"img{i:02d}.png")
        touch_image(tmp_path / "dist" / f"img{i:02d}.jpg", "JPEG")
    result = run_iqa("compare", tmp_path / "ref", tmp_path / "dist", "-m", "psnr")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--pair-by stem" in lines[0], result.stderr


def test_nothing_pairs_without_a_stem_match(tmp_path):
    touch_image(tmp_path / "ref" / "a.png")
    touch_image(tmp_path / "dist" / "b.png")
    with pytest.raises(InputError, match=r"no image pairs by relative path .*a.png and "
                                         r"b.png\); check the two folders"):
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))


def test_partly_unmatched_folders_are_summarised_with_a_hint(tmp_path):
    touch_image(tmp_path / "ref" / "common.png")
    touch_image(tmp_path / "dist" / "common.png")
    for i in range(10):
        touch_image(tmp_path / "ref" / f"r{i}.png")
        touch_image(tmp_path / "dist" / f"r{i}.webp", "WEBP")
    pairing = pair_inputs(str(tmp_path / "ref"), str(tmp_path / "dist"))
    assert [p.key for p in pairing.pairs] == ["common.png"]
    assert len(pairing.ref_only) == 10 and len(pairing.dist_only) == 10
    assert "10 of the 10 unmatched reference images" in pairing.hint
    lines = pairing.summary_lines()
    assert lines[0] == pairing.hint and len(lines) == 9
    assert lines[4] == (f"... and 7 more reference image(s) without a distorted image of "
                        f"the same name in {tmp_path / 'dist'}")


def test_distorted_folder_that_does_not_exist(tmp_path):
    touch_image(tmp_path / "ref" / "a.png")
    with pytest.raises(InputError, match=r"typo: no such file or folder"):
        pair_inputs(str(tmp_path / "ref"), str(tmp_path / "typo"))
