import csv
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tests.cli_helpers import ROOT, run_iqa, strict_json
from tests.images import astronaut, camera, jpeg, noisy
from tests.reference_impl import msssim, per_channel

SAMPLES = ROOT / "sample_images"
CODEC = sorted((SAMPLES / "codec").iterdir())


def test_main_command_on_sample_images_matches_references():
    result = run_iqa("compare", SAMPLES / "reference.png", *CODEC, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    ref = np.asarray(Image.open(SAMPLES / "reference.png"))
    assert [p["pair"] for p in doc["pairs"]] == [c.name for c in CODEC]
    for pair, path in zip(doc["pairs"], CODEC):
        dist = np.asarray(Image.open(path).convert("RGB"))
        assert pair["psnr"] == pytest.approx(peak_signal_noise_ratio(ref, dist), abs=1e-9)
        expected = structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255,
                                         channel_axis=-1)
        assert pair["ssim"] == pytest.approx(expected, abs=1e-9)
        assert pair["ms_ssim"] == pytest.approx(per_channel(msssim, ref, dist, 255.0), abs=1e-9)
        assert pair["psnr_band"] in {"visible", "hard-to-see"}
    assert doc["summary"]["ssim"]["n"] == len(CODEC)
    assert doc["definitions"]["ms_ssim"]["weights"] == [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def test_table_is_plain_text_when_piped():
    result = run_iqa("compare", SAMPLES / "reference.png", *CODEC, env={"NO_COLOR": "1"})
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout
    for name in ("jpeg_q10.jpg", "webp_q80.webp", "mean", "min", "max", "visible"):
        assert name in result.stdout
    assert result.stderr == ""


@pytest.fixture
def folders(tmp_path):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    (ref / "sub").mkdir(parents=True)
    (dist / "sub").mkdir(parents=True)
    a = astronaut()[:200, :220].copy()
    Image.fromarray(a).save(ref / "a.png")
    Image.fromarray(jpeg(a, 30)).save(dist / "a.png")
    Image.fromarray(camera()[:180, :190].copy()).save(ref / "sub" / "same.png")
    Image.fromarray(camera()[:180, :190].copy()).save(dist / "sub" / "same.png")
    Image.fromarray(noisy(camera()[:170, :175].copy(), 20)).save(dist / "sub" / "n.png")
    Image.fromarray(camera()[:170, :175].copy()).save(ref / "sub" / "n.png")
    return ref, dist


def test_folders_json_is_strict_and_identical_psnr_is_null(folders):
    result = run_iqa("compare", *folders, "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = strict_json(result.stdout)
    by_key = {p["pair"]: p for p in doc["pairs"]}
    assert set(by_key) == {"a.png", "sub/n.png", "sub/same.png"}
    same = by_key["sub/same.png"]
    assert same["psnr"] is None and same["psnr_band"] == "identical" and same["ssim"] == 1.0
    assert doc["summary"]["psnr"]["n_infinite"] == 1
    assert doc["summary"]["psnr"]["mean"] is None
    assert by_key["a.png"]["error"] is None


def test_csv_carries_inf_and_bands(folders):
    result = run_iqa("compare", *folders, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["pair", "ref", "dist", "bytes", "bpp", "psnr", "psnr_band", "ssim",
                            "ms_ssim", "error"]
    same = next(r for r in rows if r["pair"] == "sub/same.png")
    assert same["psnr"] == "inf" and float(same["psnr"]) == float("inf")
    a = next(r for r in rows if r["pair"] == "a.png")
    assert 20 < float(a["psnr"]) < 40 and a["psnr_band"] in {"visible", "hard-to-see"}


def test_jsonl_streams_one_object_per_pair_then_summary(tmp_path):
    ref, dist = tmp_path / "r", tmp_path / "d"
    ref.mkdir()
    dist.mkdir()
    img = astronaut()
    for i in range(40):
        Image.fromarray(img).save(ref / f"{i:03d}.png", compress_level=0)
        Image.fromarray(noisy(img, 5, seed=i)).save(dist / f"{i:03d}.png", compress_level=0)
    proc = subprocess.Popen([sys.executable, "-m", "iqa", "compare", ref, dist, "--format",
                             "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())
    still_running = proc.poll() is None
    rest = proc.stdout.read().splitlines()
    proc.wait(timeout=300)
    assert still_running, "the first pair should be written before the run ends"
    assert first["type"] == "pair" and first["ref"].endswith("000.png")
    assert {"ref", "dist", "psnr", "ssim", "ms_ssim"} <= set(first)
    lines = [strict_json(line) for line in rest]
    assert [x["type"] for x in lines] == ["pair"] * 39 + ["summary"]
    assert lines[-1]["counts"] == {"pairs": 40, "scored": 40, "failed": 0}


def test_output_file_is_written_whole(folders, tmp_path):
    out = tmp_path / "out" / "scores.json"
    out.parent.mkdir()
    result = run_iqa("compare", *folders, "--format", "json", "-o", out)
    assert result.returncode == 0 and result.stdout == ""
    assert strict_json(out.read_text())["counts"]["pairs"] == 3
    assert [p.name for p in out.parent.iterdir()] == ["scores.json"]
    bad = run_iqa("compare", *folders, "-m", "nosuch", "-o", tmp_path / "out" / "x.json")
    assert bad.returncode == 2 and not (tmp_path / "out" / "x.json").exists()


def test_unmatched_files_are_listed_and_fail_unless_allowed(folders):
    ref, dist = folders
    Image.fromarray(camera()[:20, :20].copy()).save(ref / "lonely.png")
    result = run_iqa("compare", ref, dist, "-m", "psnr", "--format", "json")
    assert result.returncode == 2
    assert "lonely.png: no distorted image with this name" in result.stderr
    assert strict_json(result.stdout)["unmatched"]["ref_only"] == [str(ref / "lonely.png")]
    assert run_iqa("compare", ref, dist, "-m", "psnr", "--allow-unmatched").returncode == 0


def test_bad_files_are_reported_and_the_others_scored(folders):
    ref, dist = folders
    data = (dist / "a.png").read_bytes()
    (dist / "a.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(camera()[:100, :100].copy()).save(dist / "sub" / "n.png")  # wrong size
    result = run_iqa("compare", ref, dist, "--format", "json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert any("a.png: corrupt image" in e for e in errors)
    assert any("175x170 RGB" not in e and "175x170 gray 8-bit" in e and "100x100 gray 8-bit" in e
               for e in errors)
    doc = strict_json(result.stdout)
    assert {p["pair"]: p["error"] is None for p in doc["pairs"]} == {
        "a.png": False, "sub/n.png": False, "sub/same.png": True}
    assert doc["counts"] == {"pairs": 3, "scored": 1, "failed": 2}
    assert run_iqa("compare", ref, dist, "--skip-bad").returncode == 0


def test_too_small_for_ms_ssim_keeps_other_metrics(tmp_path):
    """MS-SSIM asked for by name: its being undefined is an error (the default set is
    not: tests/test_cli_channels.py)."""
    a = camera()[:100, :150].copy()
    Image.fromarray(a).save(tmp_path / "r.png")
    Image.fromarray(noisy(a, 4)).save(tmp_path / "d.png")
    result = run_iqa("compare", tmp_path / "r.png", tmp_path / "d.png", "--format", "json",
                     "-m", "psnr,ssim,ms_ssim")
    assert result.returncode == 2
    assert "at least 161x161" in result.stderr and "got 150x100" in result.stderr
    pair = strict_json(result.stdout)["pairs"][0]
    assert pair["ms_ssim"] is None and pair["psnr"] > 20 and pair["ssim"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["-m", "nosuch"], "-m nosuch: unknown metric"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_exit_2_in_one_line(folders, args, message):
    result = run_iqa("compare", *folders, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_missing_input_exits_2(tmp_path):
    result = run_iqa("compare", tmp_path / "nope.png", tmp_path / "nope2.png")
    assert result.returncode == 2
    assert result.stderr.strip() == f"iqa: {tmp_path / 'nope.png'}: no such file or folder"


def test_weight_free_metrics_do_not_import_torch():
    script = textwrap.dedent(f"""
        import sys
        from iqa.cli import main
        try:
            main(["compare", "{SAMPLES / 'reference.png'}", "{CODEC[0]}", "--format", "json"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        heavy = sorted(m for m in ("torch", "torchvision", "lpips", "scipy") if m in sys.modules)
        print(",".join(heavy), file=sys.stderr)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_python_dash_m_and_version():
    result = run_iqa("--version")
    assert result.returncode == 0 and "iqa, version" in result.stdout


def test_metrics_lists_builtins():
    result = run_iqa("metrics", "--format", "json")
    assert result.returncode == 0
    rows = {m["name"]: m for m in strict_json(result.stdout)["metrics"]}
    assert {"psnr", "ssim", "ms_ssim"} <= set(rows)
    assert rows["ssim"]["kind"] == "pair" and rows["ssim"]["direction"] == "higher is better"


def _plugin(folder, package: str, entry: str, module: str, source: str) -> dict[str, str]:
    """An installed distribution ``package`` (its metadata only, in ``folder``) that
    registers ``entry`` in iqa.metrics, with ``module``'s ``source``; the env to use it."""
    info = folder / f"{package.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[iqa.metrics]\n{entry}\n")
    (folder / f"{module}.py").write_text(source)
    return {"PYTHONPATH": str(folder)}


def test_broken_plugin_gives_one_line_and_others_work(tmp_path, backbones):
    """`-m all` still runs every metric that loads (lpips on imported trunk weights)."""
    env = _plugin(tmp_path, "broken-plugin", "broken = broken_mod:Broken", "broken_mod",
                  "raise ImportError('needs libfoo')\n")
    listing = run_iqa("metrics", env=env)
    assert listing.returncode == 0 and "ssim" in listing.stdout
    assert listing.stderr.strip() == (
        "iqa: metric plugin 'broken' (broken_mod:Broken, from package broken-plugin) "
        "failed to load: ImportError: needs libfoo"
    )
    used = run_iqa("compare", SAMPLES / "reference.png", CODEC[0], "-m", "broken", env=env)
    assert used.returncode == 2 and "needs libfoo" in used.stderr
    fine = run_iqa("compare", SAMPLES / "reference.png", CODEC[0], "-m", "all", env=env)
    assert fine.returncode == 0 and "ms_ssim" in fine.stdout


def test_a_plugin_cannot_take_a_builtin_name(tmp_path):
    """A plugin registering `psnr` would silently replace iqa's PSNR (which one won
    depended on sys.path): it is left out, named on stderr, and PSNR stays iqa's."""
    env = _plugin(tmp_path, "shadow-plugin", "psnr = shadow_mod:Shadow", "shadow_mod",
                  "raise ImportError('never imported')\n")
    listing = run_iqa("metrics", env=env)
    assert listing.returncode == 0
    assert ("plugin 'psnr' (shadow_mod:Shadow, from package shadow-plugin) is not used: "
            "iqa already registers 'psnr'") in listing.stderr
    scored = run_iqa("compare", SAMPLES / "reference.png", CODEC[0], "-m", "psnr",
                     "--format", "json", env=env)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["pairs"][0]["psnr"] > 20


def test_a_metric_option_contradicting_its_flag_is_refused():
    ref = SAMPLES / "reference.png"
    done = run_iqa("compare", ref, ref, "-m", "psnr", "--luma", "--metric-option",
                   "psnr.luma=false")
    assert done.returncode == 2
    assert "psnr.luma=false contradicts --luma" in done.stderr
    same = run_iqa("compare", ref, ref, "-m", "psnr", "--luma", "--metric-option",
                   "psnr.luma=true")
    assert same.returncode == 0, same.stderr
