"""Gates on KID turn KID on; the JSON report carries a ``definitions`` block."""

import csv
import io

import numpy as np
import pytest

from tests.cli_helpers import run_iqa, strict_json

D = 2048


@pytest.fixture(scope="module")
def stats_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("kidgate")
    paths = []
    for seed, name in ((0, "a.npz"), (1, "b.npz")):
        f = np.abs(np.random.default_rng(seed).normal(size=(6, D))).astype(np.float32)
        f64 = f.astype(np.float64)
        np.savez(root / name, mu=f64.mean(0), sigma=np.cov(f64, rowvar=False), n=np.array(6),
                 features=f)
        paths.append(root / name)
    return paths


@pytest.mark.parametrize("gate", ["kid_mean>1e9", "kid>1e9", "mean(kid_mean)>1e9"])
def test_a_gate_on_kid_computes_kid(stats_pair, gate):
    result = run_iqa("fid", *stats_pair, "--fail-if", gate, "--kid-subsets", "3",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert np.isfinite(doc["kid_mean"]) and doc["gates"]["passed"] is True


def test_a_failing_kid_gate_fails(stats_pair):
    result = run_iqa("fid", *stats_pair, "--fail-if", "kid_mean>-1", "--kid-subsets", "3")
    assert result.returncode == 1, result.stderr


def test_json_has_a_definitions_block(stats_pair):
    result = run_iqa("fid", *stats_pair, "--kid", "--kid-subsets", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    defs = strict_json(result.stdout)["definitions"]
    assert defs["fid"]["network"] == "inception-v3-fid-2015-12-05:pool3"
    assert defs["fid"]["features"] == "pool3, 2048"
    assert defs["fid"]["resize"] == "tf"
    assert "weights_sha256" in defs["fid"]
    assert defs["kid"]["kernel"] == "(x.y/2048 + 1)^3"
    assert defs["kid"]["subsets"] == 3


def test_baseline_with_another_resize_definition_is_named(stats_pair, tmp_path):
    base = tmp_path / "base.json"
    first = run_iqa("fid", *stats_pair, "--resize", "clean", "--format", "json", "-o", base)
    assert first.returncode == 0, first.stderr
    second = run_iqa("fid", *stats_pair, "--baseline", base)
    # the setting is compared before any work: one line naming it, exit 2
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert "setting resize changed ('clean' -> 'tf')" in second.stderr
    allowed = run_iqa("fid", *stats_pair, "--baseline", base, "--allow-definition-change")
    assert allowed.returncode == 0, allowed.stderr
    # allowed, both the setting and the definition it changes are named
    assert "resize" in allowed.stderr and "fid definition changed" in allowed.stderr


def test_csv_booleans_are_lower_case(tmp_path, fid_weights):
    from tests.fid_helpers import make_pair

    real, fake = make_pair(tmp_path, 2, seed=8, square=32)
    result = run_iqa("fid", real, fake, "--weights", fid_weights, "--format", "csv",
                     "--no-cache")
    assert result.returncode == 0, result.stderr
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert row["weights_verified"] == "false"
