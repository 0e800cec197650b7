import pytest
from PIL import Image

from iqa.errors import InputError, UsageError
from iqa.io.pairing import pair_inputs
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
