"""Rate of every pair (bytes, bits per pixel) and the rate–distortion folder layout,
read back by ``iqa bdrate``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_helpers import ROOT, run_iqa, strict_json

SAMPLES = ROOT / "sample_images"
QUALITIES = (30, 50, 70, 90)
HERE = {"PYTHONPATH": str(ROOT)}  # this checkout's iqa, also when run from tmp_path


def test_every_pair_row_carries_bytes_and_bpp(tmp_path):
    codec = sorted((SAMPLES / "codec").iterdir())
    result = run_iqa("compare", SAMPLES / "reference.png", *codec, "-m", "psnr",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    for pair, path in zip(doc["pairs"], codec):
        size = os.path.getsize(path)
        assert pair["bytes"] == size
        assert pair["bpp"] == pytest.approx(8 * size / (512 * 512), rel=1e-15)
    result = run_iqa("compare", SAMPLES / "reference.png", *codec, "-m", "psnr",
                     "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["bytes"]) for r in rows] == [os.path.getsize(p) for p in codec]
    assert float(rows[0]["bpp"]) == pytest.approx(8 * os.path.getsize(codec[0]) / 512**2)
    result = run_iqa("compare", SAMPLES / "reference.png", codec[0], "-m", "psnr",
                     "--format", "jsonl")
    first = json.loads(result.stdout.splitlines()[0])
    assert first["bytes"] == os.path.getsize(codec[0]) and first["bpp"] > 0


def test_a_missing_file_has_null_bytes_and_bpp(tmp_path):
    result = run_iqa("compare", SAMPLES / "reference.png", tmp_path / "gone.jpg", "-m", "psnr",
                     "--format", "json")
    assert result.returncode == 2
    pair = strict_json(result.stdout)["pairs"][0]
    assert pair["bytes"] is None and pair["bpp"] is None


def encode_layout(root: Path, fmt: str, names=("a", "b"), **opts) -> tuple[Path, Path]:
    """refs/NAME.png and out/qQ/NAME.jpg (one sub-folder per quality)."""
    refs, out = root / "refs", root / f"out_{fmt}"
    refs.mkdir(exist_ok=True)
    image = Image.open(SAMPLES / "reference.png").convert("RGB")
    crops = {"a": image, "b": image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop(
        (0, 0, 400, 300))}
    for name in names:
        crops[name].save(refs / f"{name}.png")
        for q in QUALITIES:
            folder = out / f"q{q}"
            folder.mkdir(parents=True, exist_ok=True)
            crops[name].save(folder / f"{name}.{'jpg' if fmt == 'JPEG' else 'webp'}", fmt,
                             quality=q, **opts)
    return refs, out


def test_subfolder_layout_pairs_each_reference_with_every_encoding(tmp_path):
    refs, out = encode_layout(tmp_path, "JPEG")
    result = run_iqa("compare", refs, out, "--pair-by", "subfolders", "-m", "psnr,ssim",
                     "--format", "json", cwd=tmp_path, env=HERE)
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    # rows grouped per reference, encodings in sub-folder order
    assert [p["pair"] for p in doc["pairs"]] == [
        f"q{q}/{n}" for n in ("a", "b") for q in QUALITIES]
    assert [p["ref"] for p in doc["pairs"]] == [str(refs / "a.png")] * 4 + [
        str(refs / "b.png")] * 4
    assert doc["pairs"][4]["dist"] == str(out / "q30" / "b.jpg")
    assert doc["pairs"][4]["bpp"] == pytest.approx(
        8 * os.path.getsize(out / "q30" / "b.jpg") / (400 * 300))
    assert doc["settings"]["pair_by"] == "subfolders"


def test_subfolder_layout_lists_missing_encodings(tmp_path):
    refs, out = encode_layout(tmp_path, "JPEG")
    (out / "q50" / "b.jpg").unlink()
    (out / "q50" / "stray.jpg").write_bytes((out / "q30" / "a.jpg").read_bytes())
    result = run_iqa("compare", refs, out, "--pair-by", "subfolders", "-m", "psnr",
                     "--format", "json", cwd=tmp_path, env=HERE)
    assert result.returncode == 2
    doc = strict_json(result.stdout)
    assert len(doc["pairs"]) == 7
    assert doc["unmatched"]["dist_only"] == [str(out / "q50" / "stray.jpg")]
    assert doc["unmatched"]["ref_only"] == [str(refs / "b.png")]
    assert "q50" in result.stderr


def test_subfolder_layout_needs_sub_folders(tmp_path):
    refs, _ = encode_layout(tmp_path, "JPEG", names=("a",))
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.jpg").write_bytes(b"x")
    result = run_iqa("compare", refs, flat, "--pair-by", "subfolders", cwd=tmp_path, env=HERE)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "sub-folder" in result.stderr


def test_compare_json_is_read_by_bdrate_one_curve_per_reference(tmp_path):
    refs, jpeg = encode_layout(tmp_path, "JPEG")
    _, webp = encode_layout(tmp_path, "WEBP")
    for folder, name in ((jpeg, "anchor.json"), (webp, "test.json")):
        result = run_iqa("compare", refs.name, folder.name, "--pair-by", "subfolders",
                         "-m", "psnr,ssim", "--format", "json", "-o", name, cwd=tmp_path,
                         env=HERE)
        assert result.returncode == 0, result.stderr
    result = run_iqa("bdrate", "anchor.json", "test.json", "--format", "json", cwd=tmp_path,
                     env=HERE)
    assert result.returncode == 0, result.stderr
    assert "file size" not in result.stderr and "rates are" not in result.stderr
    doc = strict_json(result.stdout)
    assert sorted(s if isinstance(s, str) else s.get("sequence", s.get("name"))
                  for s in doc["sequences"]) == [str(Path("refs") / "a.png"),
                                                 str(Path("refs") / "b.png")]
    assert set(doc["metrics"]) == {"psnr", "ssim"}
    assert all(isinstance(doc["metrics"][m]["bd_rate"], float) for m in ("psnr", "ssim"))
