"""The library builds the ``iqa compare`` report: ``compare_files`` returns the document
that ``iqa compare --format json`` writes."""

from __future__ import annotations

import json

from iqa.compare import compare_files
from iqa.output.values import strict
from tests.cli_helpers import ROOT, run_iqa, strict_json

SAMPLES = ROOT / "sample_images"


def test_compare_files_returns_the_cli_document(tmp_path):
    codec = sorted((SAMPLES / "codec").iterdir())[:3]
    args = [str(SAMPLES / "reference.png"), *map(str, codec)]
    cli = strict_json(run_iqa("compare", *args, "-m", "psnr,ssim", "--luma",
                              "--crop-border", "2", "--format", "json").stdout)
    doc = compare_files(args[0], args[1:], metrics="psnr,ssim", luma=True, crop_border=2)
    assert json.loads(json.dumps(strict(doc))) == cli
    assert doc["counts"] == {"pairs": 3, "scored": 3, "failed": 0}


def test_compare_files_reports_a_bad_pair_and_scores_the_others(tmp_path):
    missing = str(tmp_path / "gone.jpg")
    good = str(sorted((SAMPLES / "codec").iterdir())[0])
    doc = compare_files(str(SAMPLES / "reference.png"), [missing, good], metrics="psnr")
    assert doc["counts"] == {"pairs": 2, "scored": 1, "failed": 1}
    assert doc["pairs"][0]["error"] and doc["pairs"][1]["psnr"] > 20


def test_compare_files_takes_paths_and_lists_and_refuses_the_rest(tmp_path):
    import json
    from pathlib import Path

    import pytest

    from iqa.compare import compare_files
    from iqa.errors import InvalidArgument, InvalidType

    ref = Path(__file__).resolve().parents[1] / "sample_images" / "reference.png"
    doc = compare_files(ref, [ref], metrics=["psnr", "ssim"])
    json.dumps(doc)  # paths are text in the document, as in --format json
    assert doc["pairs"][0]["ref"] == str(ref) and doc["metrics"] == ["psnr", "ssim"]
    for kwargs, error in (({"metrics": ""}, InvalidArgument), ({"metrics": 5}, InvalidType),
                          ({"crop_border": 1.5}, InvalidType), ({"crop_border": "2"}, InvalidType),
                          ({"batch_size": -1}, InvalidArgument), ({"worst": -1}, InvalidArgument)):
        with pytest.raises(error):
            compare_files(str(ref), str(ref), **kwargs)
    with pytest.raises(InvalidType, match="dist must be a path"):
        compare_files(str(ref), 5)
