"""Other tools' statistics files that cannot be used: refused with one line naming the
file (exit 2), never repaired; pickles that would run code run nothing."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from iqa.distribution.safepickle import load_restricted
from iqa.errors import InputError
from tests.cli_helpers import run_iqa


def _moments(dim: int = 2048) -> dict[str, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((64, dim))
    return {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False)}


def _pickle(path, value) -> None:
    with open(path, "wb") as f:
        pickle.dump(value, f)


def _torch_fidelity(path, value) -> None:
    import torch

    torch.save(value, path)


def _truncated(path, write) -> None:
    write(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _nan() -> dict[str, np.ndarray]:
    m = _moments()
    m["mu"][5] = np.nan
    return m


def _asymmetric() -> dict[str, np.ndarray]:
    m = _moments()
    m["sigma"][0, 1] += 1.0
    return m


def _npz(**arrays):
    return lambda path: np.savez(path, **arrays)


BAD = {
    # pytorch-fid / clean-fid / ADM .npz
    "missing.npz": (_npz(mu=_moments()["mu"]), "it needs arrays 'mu' and 'sigma'"),
    "dims64.npz": (_npz(**_moments(64)), r"mu has shape \(64,\)"),
    "nan.npz": (_npz(**_nan()), "NaN or infinite"),
    "asymmetric.npz": (_npz(**_asymmetric()), "not symmetric"),
    "truncated.npz": (lambda p: _truncated(p, _npz(**_moments())), "damaged|not a NumPy"),
    "text_mu.npz": (_npz(mu=np.array(["a"] * 2048), sigma=_moments()["sigma"]),
                    "mu is an array of <U1, not of numbers"),
    "cifar10_clean_clip_vit_b_32_train_32.npz": (_npz(**_moments(2048)),
                                                 r"mu has shape \(2048,\) and sigma \(2048, "
                                                 r"2048\); clip-vit-b-32 statistics have "
                                                 r"\(512,\)"),
    "cifar10_clean_dinov2_train_32.npz": (_npz(**_moments(512)),
                                          "clean-fid statistics of the dinov2 extractor, and "
                                          "this run needs inception"),
    # EDM2 .pkl
    "missing.pkl": (lambda p: _pickle(p, {"fid": {"mu": _moments()["mu"]}}),
                    "needs 'mu' and 'sigma'"),
    "noentry.pkl": (lambda p: _pickle(p, {"num_images": 5}), "needs 'fid' or 'fd_dinov2'"),
    "list.pkl": (lambda p: _pickle(p, [1, 2]), "not an EDM2 reference pickle"),
    "dims.pkl": (lambda p: _pickle(p, {"fid": _moments(1024)}), r"mu has shape \(1024,\)"),
    "nan.pkl": (lambda p: _pickle(p, {"fid": _nan()}), "NaN or infinite"),
    "asymmetric.pkl": (lambda p: _pickle(p, {"fid": _asymmetric()}), "not symmetric"),
    "count.pkl": (lambda p: _pickle(p, {"num_images": 1, "fid": _moments()}),
                  "num_images = 1"),
    "truncated.pkl": (lambda p: _truncated(p, lambda q: _pickle(q, {"fid": _moments()})),
                      "damaged or truncated"),
    "objects.pkl": (lambda p: _pickle(p, {"fid": {"mu": np.array([1, "a"], object),
                                                  "sigma": 1}}),
                    "array of Python objects"),
    # torch-fidelity .pt
    "a-inception-v3-compat-stat-fid-2048.pt": (
        lambda p: _torch_fidelity(p, {"mu": _moments()["mu"]}), "needs 'mu' and 'sigma'"),
    "b-inception-v3-compat-stat-fid-2048.pt": (
        lambda p: _truncated(p, lambda q: _torch_fidelity(q, _moments())),
        "not a torch.save zip archive"),
    "c-inception-v3-compat-stat-fid-2048.pt": (
        lambda p: _torch_fidelity(p, {k: __import__("torch").from_numpy(v)
                                      for k, v in _moments().items()}),
        r"refused: it names torch\._utils\._rebuild_tensor_v2"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_foreign_files_are_one_line_and_exit_2(tmp_path, name):
    write, message = BAD[name]
    path = tmp_path / name
    write(path)
    result = run_iqa("stats", "show", path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"iqa: {path}: "), result.stderr
    assert __import__("re").search(message, lines[0]), lines[0]
    assert result.stdout == ""


def test_a_clean_fid_clip_file_is_shown_and_not_taken_for_fid(tmp_path):
    """clean-fid's CLIP statistics are CLIP's: `iqa stats show` describes them; FID asks
    for the Inception file clean-fid keeps beside them, naming it."""
    from iqa.distribution.statsfile import read_stats
    from iqa.errors import InputError

    path = tmp_path / "cifar10_clean_clip_vit_b_32_train_32.npz"
    _npz(**_moments(512))(path)
    shown = run_iqa("stats", "show", path, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    doc = __import__("json").loads(shown.stdout)
    assert (doc["tool"], doc["network"], doc["preprocessing"]["resize"]) == (
        "clean-fid", "clip-vit-b-32", "clean-fid")
    with pytest.raises(InputError, match="clean-fid statistics of clip-vit-b-32, and this run "
                       "also needs inception's, which clean-fid names "
                       "cifar10_clean_train_32.npz: not found beside it"):
        read_stats(path)


class _System:
    """Unpickled by pickle.load, this runs ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Eval:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def test_a_pickle_that_would_run_code_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "img64.pkl"
    _pickle(evil, {"num_images": 3, "fid": _System(f"touch {marker}")})
    # The pickle is live: plain pickle.load would run the command.
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_System(f"touch {probe}")))
    assert probe.exists()

    other = tmp_path / "other.npz"
    np.savez(other, **_moments())
    for args in (("stats", "show", evil), ("fid", evil, other)):
        result = run_iqa(*args)
        assert result.returncode == 2
        assert result.stderr.strip() == (f"iqa: {evil}: refused: it names posix.system; only "
                                         "pickles of dicts, lists, numbers, strings and NumPy "
                                         "arrays are read")
    assert not marker.exists()

    # The same inside a torch.save archive (torch-fidelity's format), and through eval.
    archive = tmp_path / "x-inception-v3-compat-stat-fid-2048.pt"
    _torch_fidelity(archive, {"mu": _System(f"touch {marker}")})
    with pytest.raises(InputError, match=r"refused: it names posix\.system"):
        load_restricted(_data_pkl(archive), str(archive))
    with pytest.raises(InputError, match=r"refused: it names builtins\.eval"):
        load_restricted(pickle.dumps({"fid": _Eval(f"open({str(marker)!r}, 'w')")}), "e.pkl")
    assert not marker.exists()


def _data_pkl(path) -> bytes:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        (member,) = [m for m in archive.namelist() if m.endswith("data.pkl")]
        return archive.read(member)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_and_scalars_are_admitted_at_every_protocol(protocol):
    value = {"fid": {"mu": np.arange(3.0), "sigma": np.eye(3, dtype=np.float32)},
             "num_images": 7, "n": np.int64(7), "t": (1.5, "s", None, True, b"raw"),
             "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3))}
    loaded = load_restricted(pickle.dumps(value, protocol=protocol), "ok.pkl")
    assert loaded["fid"]["sigma"].dtype == np.float32
    np.testing.assert_array_equal(loaded["fid"]["mu"], value["fid"]["mu"])
    np.testing.assert_array_equal(loaded["fortran"], value["fortran"])
    assert loaded["n"] == 7 and loaded["t"] == value["t"]


def _npz_with_declared_features(path, rows: int, n: int) -> None:
    """An iqa statistics file whose ``features`` member declares rows×2048 float32 of
    deflated zeros (about 1000:1), written as a stream: small on disk, large inflated."""
    import json

    from iqa.distribution.statsfile import STATS_FORMAT
    from iqa.features.inception import NETWORK_ID

    rng = np.random.default_rng(0)
    x = rng.random((40, 2048))
    small = {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False), "n": np.array(n, np.int64),
             "meta": np.array(json.dumps({"format": STATS_FORMAT, "network": NETWORK_ID,
                                          "resize": "tf"}))}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in small.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value))
            archive.writestr(f"{key}.npy", buffer.getvalue())
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f4", "fortran_order": False, "shape": (rows, 2048)})
        with archive.open("features.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            block = bytes(2**22)
            left = rows * 2048 * 4
            while left:
                member.write(block[:min(left, len(block))])
                left -= min(left, len(block))


def _peak_mib(*args) -> tuple[float, object]:
    """Peak resident memory (MiB) of `iqa ARGS` in a fresh process, and (exit code, run)."""
    import subprocess
    import sys

    code = ("import resource, sys, iqa.cli\n"
            "try:\n    iqa.cli.main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=600)
    peak, status = done.stderr.strip().splitlines()[-1].split()
    return int(peak) / 1024, (int(status), done)


def test_features_are_not_inflated_unless_needed(tmp_path):
    """`stats show` and FID without KID read the features' header only; a declared shape
    that does not match n is refused before anything is inflated."""
    rows = 20_000  # 156 MiB of float32 once inflated
    big = tmp_path / "big.npz"
    _npz_with_declared_features(big, rows, rows)
    assert big.stat().st_size < 40 * 2**20  # sigma: 32 MiB; the features: 0.2 MiB
    lying = tmp_path / "lying.npz"
    _npz_with_declared_features(lying, rows, 40)
    plain, (code, _) = _peak_mib("stats", "show", lying)
    assert code == 2
    shown, (code, done) = _peak_mib("stats", "show", big)
    assert code == 0, done.stderr
    assert f"{rows}" in done.stdout
    assert shown < plain + 60, (shown, plain)
    fid, (code, done) = _peak_mib("fid", big, big, "--format", "json")
    assert code == 0, done.stderr
    assert fid < plain + 60, (fid, plain)
    with pytest.raises(InputError, match="features hold 20000 rows but n = 40"):
        from iqa.distribution.statsfile import read_stats

        read_stats(lying)
