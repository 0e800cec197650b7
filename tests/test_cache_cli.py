"""``iqa cache list`` / ``iqa cache clear``, and warm ``iqa fid`` runs without torch.

The command object is invoked with click's runner (in-process, with the tests' own
cache folder); ``python -m iqa cache`` runs it once it is registered in the group.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
from click.testing import CliRunner
from PIL import Image

from iqa.cli.cache import cache
from iqa.distribution.stats import FeatureStats
from iqa.distribution.statscache import StatsCache, stats_cache_dir
from tests.cli_helpers import ROOT


def _entry(tmp_path, name: str, count: int = 3, features: bool = False) -> StatsCache:
    folder = tmp_path / name
    folder.mkdir()
    for i in range(count):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(folder / f"{i}.png")
    files = sorted(folder.iterdir())
    settings = {"network": "net", "weights_sha256": "ab" * 32, "device": "cpu",
                "resize": "tf", "alpha": "drop", "exif": False}
    entry = StatsCache(folder, files, settings)
    feats = np.random.default_rng(count).normal(size=(count, 2048))
    entry.store(FeatureStats.from_features(feats), feats if features else None, [])
    return entry


def _clean():
    folder = stats_cache_dir()
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink()


def test_list_shows_entries_with_sizes_sources_and_last_use(tmp_path):
    _clean()
    a = _entry(tmp_path, "alpha", 3)
    _entry(tmp_path, "beta", 4, features=True)
    (stats_cache_dir() / "junk.npz").write_bytes(b"not an entry")
    old = time.time() - 10 * 86400
    os.utime(a.path, (old, old))
    result = CliRunner().invoke(cache, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    by_folder = {e["folder"]: e for e in doc["entries"] if e["folder"]}
    alpha = by_folder[str((tmp_path / "alpha").resolve())]
    assert alpha["images"] == 3 and alpha["files"] == 3 and alpha["bytes"] > 0
    assert alpha["resize"] == "tf" and alpha["features"] is False
    assert alpha["last_used"].startswith(time.strftime("%Y-", time.gmtime(old)))
    assert by_folder[str((tmp_path / "beta").resolve())]["features"] is True
    assert any(e["error"] for e in doc["entries"])  # junk.npz is listed as unreadable
    assert doc["total_bytes"] == sum(e["bytes"] for e in doc["entries"])
    table = CliRunner().invoke(cache, ["list"])
    assert table.exit_code == 0 and "alpha" in table.output and "unreadable" in table.output


def test_clear_older_than_keeps_recent_entries(tmp_path):
    _clean()
    a = _entry(tmp_path, "old", 2)
    b = _entry(tmp_path, "new", 2)
    old = time.time() - 10 * 86400
    os.utime(a.path, (old, old))
    result = CliRunner().invoke(cache, ["clear", "--older-than", "7"])
    assert result.exit_code == 0, result.output
    assert not a.path.exists() and b.path.exists()
    assert "removed 1" in result.output
    everything = CliRunner().invoke(cache, ["clear"])
    assert everything.exit_code == 0 and not b.path.exists()


def test_bad_older_than_is_one_line_exit_2(monkeypatch, capsys):
    import pytest

    import iqa.cli
    from iqa.cli import main

    monkeypatch.setitem(iqa.cli._COMMANDS, "cache", "iqa.cli.cache")
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "clear", "--older-than", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--older-than" in err


def test_empty_cache_lists_nothing(tmp_path):
    _clean()
    result = CliRunner().invoke(cache, ["list"])
    assert result.exit_code == 0 and "no cached statistics" in result.output


def test_cache_folder_that_is_a_file_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    import pytest

    import iqa.cli
    from iqa.cli import main

    monkeypatch.setitem(iqa.cli._COMMANDS, "cache", "iqa.cli.cache")
    (tmp_path / "afile").write_text("x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for where in (tmp_path / "afile", tmp_path / "afile" / "below", loop):
        monkeypatch.setenv("IQA_CACHE_DIR", str(where))
        for command in (["cache", "list"], ["cache", "clear"]):
            with pytest.raises(SystemExit) as exit_info:
                main(command)
            assert exit_info.value.code == 2, (where, command)
            captured = capsys.readouterr()
            assert captured.out == ""
            assert captured.err.count("\n") == 1 and "is not a folder" in captured.err
    monkeypatch.setenv("IQA_CACHE_DIR", str(tmp_path / "not-yet"))
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "list"])
    assert exit_info.value.code in (0, None)
    assert "no cached statistics" in capsys.readouterr().out


def test_warm_fid_run_does_not_import_torch(tmp_path, fid_weights):
    from tests.fid_helpers import make_pair

    real, fake = make_pair(tmp_path, 2, seed=13, square=32)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    cold = subprocess.run([sys.executable, "-m", "iqa", "fid", str(real), str(fake),
                           "--weights", str(fid_weights)], capture_output=True, text=True,
                          cwd=ROOT, env=env)
    assert cold.returncode == 0, cold.stderr
    script = (
        "import sys\n"
        "from iqa.cli import main\n"
        "try:\n"
        f"    main(['fid', {str(real)!r}, {str(fake)!r}, '--weights', {str(fid_weights)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    warm = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env=env)
    assert warm.returncode == 0, warm.stderr
    assert "from the cache" in warm.stderr
    assert "TORCH False" in warm.stderr
