"""`iqa fid` writes through the writers of `iqa compare` with the same header, and runs
registered distribution-metric plugins on the same features."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest

from iqa.metrics.base import DistributionMetric, MetricInfo, Option
from tests.cli_helpers import run_iqa, strict_json

D = 2048
HEADER = ("tool", "version", "command", "metrics", "definitions", "settings")


class MeanShift(DistributionMetric):
    """A plugin on statistics: the distance between the two means, times ``scale``."""

    info = MetricInfo("meanshift", "distribution", False, "network:fid-inception",
                      "|mu_r - mu_f| (test plugin)",
                      options=(Option("scale", float, 1.0, "factor"),))

    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        scale = self.options.params["meanshift.scale"]
        return {"meanshift": scale * float(np.linalg.norm(real.mean - fake.mean))}


class FeatureCount(DistributionMetric):
    """A plugin on features: how many feature rows it was given."""

    info = MetricInfo("featcount", "distribution", True, "network:fid-inception", "rows")
    inputs = "features"

    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        return {"featcount": float(len(real) + len(fake))}


@pytest.fixture
def plugins(monkeypatch):
    import iqa.registry as registry

    found = dict(registry.registered())
    for name, cls in (("meanshift", "MeanShift"), ("featcount", "FeatureCount")):
        found[name] = registry.Registered(name, f"tests.test_house_fid_output:{cls}", "test")
    monkeypatch.setattr(registry, "registered", lambda: found)


@pytest.fixture(scope="module")
def stats_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("houseout")
    paths = []
    for seed, name in ((0, "a.npz"), (1, "b.npz")):
        f = np.abs(np.random.default_rng(seed).normal(size=(6, D))).astype(np.float32)
        f64 = f.astype(np.float64)
        np.savez(root / name, mu=f64.mean(0), sigma=np.cov(f64, rowvar=False), n=np.array(6),
                 features=f)
        paths.append(root / name)
    return paths


def _main(args, capsys) -> tuple[int, str, str]:
    from iqa.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_json_has_the_compare_header_and_the_result_at_the_top(stats_pair):
    result = run_iqa("fid", *stats_pair, "--kid", "--kid-subsets", "2", "--format", "json")
    doc = strict_json(result.stdout)
    assert all(key in doc for key in HEADER) and doc["command"] == "fid"
    assert doc["metrics"] == ["fid", "kid"] and "pairs" not in doc
    assert doc["settings"] == {"resize": "tf", "alpha": "drop", "exif": False}
    assert doc["fid"] > 0 and doc["kid_mean"] == doc["kid_mean"]


def test_jsonl_has_a_result_line_and_a_summary_line_with_the_header(stats_pair, tmp_path):
    result = run_iqa("fid", *stats_pair, "--format", "jsonl", "-o", tmp_path / "r.jsonl")
    assert result.returncode == 0, result.stderr
    lines = [strict_json(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines] == ["pair", "summary"]
    assert lines[0]["fid"] > 0 and all(key in lines[1] for key in HEADER)
    again = run_iqa("fid", *stats_pair, "--baseline", tmp_path / "r.jsonl",
                    "--tolerance", "fid=0", "--format", "json")
    assert again.returncode == 0, again.stderr


def test_csv_row_from_the_shared_writer(stats_pair):
    result = run_iqa("fid", *stats_pair, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and float(rows[0]["fid"]) > 0 and rows[0]["n_real"] == "6"


def test_a_plugin_runs_from_the_library(stats_pair, plugins):
    from iqa.distribution.run import FIDOptions, compare_sets

    options = FIDOptions(metrics=("meanshift", "featcount"), params={"meanshift.scale": 2.0})
    result = compare_sets(*stats_pair, options)
    a, b = (np.load(p) for p in stats_pair)
    assert result.values["meanshift"] == pytest.approx(2 * np.linalg.norm(a["mu"] - b["mu"]))
    assert result.values["featcount"] == 12.0
    record = result.record()
    assert record["meanshift"] == result.values["meanshift"]
    assert record["definitions"]["meanshift"]["options"] == {"meanshift.scale": 2.0}


def test_a_plugin_runs_from_the_command_line_with_gates(stats_pair, plugins, capsys):
    code, out, err = _main(["fid", *stats_pair, "--metric", "meanshift", "--metric-option",
                            "meanshift.scale=0.5", "--fail-if", "meanshift>1e-9",
                            "--format", "json"], capsys)
    assert code == 1, err
    doc = strict_json(out)
    assert doc["meanshift"] > 0 and "meanshift" in doc["metrics"]
    assert doc["gates"]["passed"] is False


def test_a_misspelt_plugin_option_is_an_error(stats_pair, plugins, capsys):
    code, out, err = _main(["fid", *stats_pair, "--metric", "meanshift", "--metric-option",
                            "meanshift.scal=2"], capsys)
    assert code == 2 and out == ""
    assert "meanshift" in err and "scale" in err and len(err.strip().splitlines()) == 1


def test_a_pair_metric_is_not_a_distribution_metric(stats_pair, capsys):
    code, out, err = _main(["fid", *stats_pair, "--metric", "psnr"], capsys)
    assert code == 2 and err.startswith("iqa: --metric 'psnr'") and "iqa compare" in err


def test_kid_by_name_is_kid(stats_pair, capsys):
    code, out, err = _main(["fid", *stats_pair, "--metric", "kid", "--kid-subsets", "2",
                            "--format", "json"], capsys)
    assert code == 0, err
    assert "kid_mean" in strict_json(out)
