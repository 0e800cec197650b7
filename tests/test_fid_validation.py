"""Statistics files are checked before use, and a non-finite result is an error with a reason.

``iqa fid A.npz B.npz`` needs no network, so these run without weights.
"""

import numpy as np
import pytest

from tests.cli_helpers import run_iqa, strict_json

D = 2048


def _features(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(n, D))).astype(np.float32)


def _save(path, *, mu=None, sigma=None, n=None, features=None, seed=0, rows=8):
    feats = _features(rows, seed)
    arrays = {
        "mu": feats.mean(0).astype(np.float64) if mu is None else mu,
        "sigma": np.cov(feats.astype(np.float64), rowvar=False) if sigma is None else sigma,
    }
    if n is not None:
        arrays["n"] = np.array(n)
    if features is not None:
        arrays["features"] = features
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    return _save(root / "good.npz", n=8, features=_features(8, 0), seed=0)


def _one_line_exit_2(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("iqa: ") for line in lines), result.stderr
    assert not any(line.startswith("iqa: warning") for line in lines[-1:]), result.stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_a_valid_pair_of_files_gives_a_number(good, tmp_path):
    other = _save(tmp_path / "other.npz", n=8, features=_features(8, 1), seed=1)
    result = run_iqa("fid", good, other, "--format", "json", "--kid", "--kid-subsets", "3")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["fid"] > 0 and np.isfinite(doc["kid_mean"])


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("negative_identity", ("sigma", "positive semi-definite")),
        ("asymmetric", ("sigma", "not symmetric")),
        ("n_negative", ("n = -5", "at least 2")),
        ("n_one", ("n = 1", "at least 2")),
        ("n_fraction", ("n = 3.5",)),
        ("mu_shape", ("mu has shape (2047,)",)),
        ("sigma_nan", ("NaN or infinite",)),
        ("features_nan", ("features", "NaN or infinite")),
        ("features_rows_differ", ("features", "n = 8")),
    ],
)
def test_invalid_statistics_are_refused(good, tmp_path, case, needles):
    bad = tmp_path / f"{case}.npz"
    if case == "negative_identity":
        _save(bad, mu=np.zeros(D), sigma=-np.eye(D))
    elif case == "asymmetric":
        sigma = np.eye(D)
        sigma[0, 1] = 0.5
        _save(bad, sigma=sigma)
    elif case == "n_negative":
        _save(bad, n=-5)
    elif case == "n_one":
        _save(bad, n=1)
    elif case == "n_fraction":
        _save(bad, n=3.5)
    elif case == "mu_shape":
        _save(bad, mu=np.zeros(D - 1))
    elif case == "sigma_nan":
        sigma = np.eye(D)
        sigma[3, 3] = np.nan
        _save(bad, sigma=sigma)
    elif case == "features_nan":
        feats = _features(8, 2)
        feats[1, 5] = np.nan
        _save(bad, n=8, features=feats)
    elif case == "features_rows_differ":
        _save(bad, n=8, features=_features(5, 2))
    # Features are read only for what needs them (KID): NaN in them is found there.
    kid = ("--kid", "--kid-subsets", "3") if case == "features_nan" else ()
    result = run_iqa("fid", good, bad, *kid)
    line = _one_line_exit_2(result, str(bad), *needles)
    assert line.startswith("iqa: ")


def test_huge_values_give_an_error_not_a_null(good, tmp_path):
    bad = _save(tmp_path / "huge.npz", mu=np.full(D, 1e200))
    _one_line_exit_2(run_iqa("fid", good, bad, "--format", "json"), "FID", "not a finite number")


def test_features_with_one_row_and_kid_is_exit_2(good, tmp_path):
    bad = _save(tmp_path / "one.npz", features=_features(1, 4))
    _one_line_exit_2(run_iqa("fid", good, bad, "--kid"), str(bad), "features")


def test_a_text_file_named_npz_is_not_statistics(good, tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("these are not statistics\n")
    line = _one_line_exit_2(run_iqa("fid", good, text), str(text), "not an .npz")
    assert "pickle" not in line.lower()


def test_an_npz_with_object_arrays_says_so_without_pickle_advice(good, tmp_path):
    bad = tmp_path / "objects.npz"
    np.savez(bad, mu=np.array([{"a": 1}], dtype=object), sigma=np.eye(2))
    line = _one_line_exit_2(run_iqa("fid", good, bad), str(bad))
    assert "pickle" not in line.lower()


def test_pytorch_fid_file_without_n_is_described_as_statistics(good, tmp_path):
    plain = _save(tmp_path / "plain.npz", seed=7)
    result = run_iqa("fid", good, plain)
    assert result.returncode == 0, result.stderr
    assert "?" not in result.stderr and "?" not in result.stdout
    assert "statistics" in result.stdout


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "99999999999"],
                                  ["--limit", "2", "--limit-seed", "-1"]])
def test_seeds_out_of_numpys_range_are_usage_errors(good, args):
    result = run_iqa("fid", good, good, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--" in lines[0] and "seed" in lines[0], result.stderr


def test_kid_and_fid_options_of_the_wrong_type_are_refused_by_name(good):
    import iqa
    from iqa.errors import InvalidArgument, InvalidType

    for kwargs, error, needle in (({"subsets": 1.5}, InvalidType, "subsets"),
                                  ({"subsets": True}, InvalidType, "subsets"),
                                  ({"seed": -1}, InvalidArgument, "seed"),
                                  ({"seed": 2**40}, InvalidArgument, "seed"),
                                  ({"seed": None}, InvalidType, "seed")):
        with pytest.raises(error, match=needle):
            iqa.kid(good, good, **kwargs)
