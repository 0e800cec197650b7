"""``iqa compare`` on clips with ``--maps`` and ``--html``: each clip pair is drawn by its
worst frame's Y plane, with maps from the same computation as the per-frame numbers,
and the report opens in a real headless browser (see ``tests/browser.py``)."""

from __future__ import annotations

import math
import re

import cv2
import numpy as np
import pytest

from tests.browser import browser, image_widths, open_report  # noqa: F401
from tests.cli_helpers import run_iqa, strict_json

W, H, FRAMES = 64, 48, 6


def write_y4m(path, frames) -> None:
    """A 4:2:0 8-bit Y4M clip of ``frames`` (a list of (Y, U, V) uint8 planes)."""
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F25:1 Ip A1:1 C420jpeg\n".encode())
        for planes in frames:
            f.write(b"FRAME\n")
            for p in planes:
                f.write(np.ascontiguousarray(p, np.uint8).tobytes())


def clip_pair(seed: int, noise: list[float]):
    """A smooth moving reference and a distorted clip whose frame i has noise ``noise[i]``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    ref, dist = [], []
    for i, sigma in enumerate(noise):
        y = 128 + 60 * np.sin((xx + 3 * i + seed) / 7.0) * np.cos(yy / 9.0)
        u = np.full((H // 2, W // 2), 100 + i)
        v = np.full((H // 2, W // 2), 150 - i)
        d = y + rng.normal(0, sigma, y.shape)
        ref.append([np.clip(y, 0, 255).round(), u, v])
        dist.append([np.clip(d, 0, 255).round(), np.clip(u + rng.normal(0, 2, u.shape), 0, 255)
                     .round(), v])
    return ref, dist


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    (root / "ref").mkdir()
    (root / "dist").mkdir()
    # worst frames: a at frame 3, b at frame 1 (b is worse overall), c at frame 5
    noises = {"a.y4m": [2, 3, 4, 12, 3, 2], "b.y4m": [10, 30, 12, 14, 10, 11],
              "c.y4m": [1, 1, 1, 1, 1, 6]}
    for i, (name, noise) in enumerate(noises.items()):
        ref, dist = clip_pair(i, noise)
        write_y4m(root / "ref" / name, ref)
        write_y4m(root / "dist" / name, dist)
    out = root / "out"
    out.mkdir()
    result = run_iqa("compare", root / "ref", root / "dist", "--maps", out / "maps",
                     "--html", out / "r.html", "--worst", "2", "--format", "jsonl",
                     "-o", out / "r.jsonl")
    assert result.returncode == 0, result.stderr
    lines = [strict_json(line) for line in (out / "r.jsonl").read_text().splitlines()]
    frames = [row for row in lines if row.get("type") == "frame"]
    summary = lines[-1]
    return root, out, frames, summary, {"a.y4m": 3, "b.y4m": 1, "c.y4m": 5}


def read_y(path, index):
    data = path.read_bytes()
    header = data.index(b"\n") + 1
    size = W * H * 3 // 2 + len(b"FRAME\n")
    start = header + index * size + len(b"FRAME\n")
    return np.frombuffer(data[start:start + W * H], np.uint8).reshape(H, W)


def test_maps_of_each_clips_worst_frame(clips):
    root, out, frames, _, worst = clips
    names = sorted(p.name for p in (out / "maps").iterdir())
    expected = [f"{k}.frame{n}.{m}_y.png" for k, n in worst.items() for m in ("psnr", "ssim")]
    assert names == sorted(expected + ["legend.psnr.png", "legend.ssim.png"])
    import iqa
    from iqa.output.maps import colorize
    from iqa.video.worst import FrameY, frame_maps

    for key, index in worst.items():
        rows = {r["frame"]: r for r in frames if r["pair"] == key}
        assert len(rows) == FRAMES
        # the chosen frame is the one with the lowest ssim_y
        assert min(rows, key=lambda i: rows[i]["ssim_y"]) == index
        ref, dist = read_y(root / "ref" / key, index), read_y(root / "dist" / key, index)
        maps = frame_maps(FrameY(index, ref, dist, 255, 8))
        ssim_value, ssim_map = maps["ssim"]
        mse, error = maps["psnr"]
        # the maps' means are the reported per-frame numbers
        assert math.isclose(float(ssim_map.mean()), rows[index]["ssim_y"], rel_tol=0,
                            abs_tol=1e-12)
        assert math.isclose(ssim_value, rows[index]["ssim_y"], rel_tol=0, abs_tol=1e-12)
        sse = int(((ref.astype(np.int64) - dist) ** 2).sum())
        assert float(error.mean()) == sse / (W * H)  # the MSE ffmpeg's psnr uses
        psnr_y = 10 * math.log10(255 ** 2 / error.mean())
        assert math.isclose(psnr_y, rows[index]["psnr_y"], rel_tol=1e-15)
        # the PNGs are those maps on the images' fixed scales, at the plane's resolution
        assert math.isclose(iqa.ssim(ref, dist), rows[index]["ssim_y"], abs_tol=1e-12)
        for metric, value_map in (("ssim", ssim_map), ("psnr", error)):
            png = cv2.imread(str(out / "maps" / f"{key}.frame{index}.{metric}_y.png"))
            assert png.shape == (H, W, 3)
            assert np.array_equal(png[:, :, ::-1], colorize(metric, value_map, (H, W), 255))
    assert not [p for p in (out / "maps").iterdir() if p.name.startswith(".")]


def test_clip_report_in_browser(browser, clips):  # noqa: F811
    _, out, _, summary, worst = clips
    opened = open_report(browser, out / "r.html")
    page = opened.page
    widths = image_widths(page)
    # 2 worst clips x (ref, dist, 2 maps, A/B ref + dist, dist crop, 2 map crops) + 2 legends
    assert len(widths) == 2 * 9 + 2
    assert all(w > 0 and ok for _, w, ok in widths), widths
    by_ssim = sorted(summary["clips"], key=lambda r: r["ssim_y"])[:2]
    shown = [page.locator(".pairview h3").nth(i).inner_text() for i in range(2)]
    assert shown == [f"{i + 1}. {r['pair']}, frame {worst[r['pair']]} (Y plane, lowest ssim_y)"
                     for i, r in enumerate(by_ssim)]
    # the table: one row per clip with its pooled values, sortable
    header = page.locator("#pairs-table th")
    labels = [header.nth(i).inner_text() for i in range(header.count())]
    assert labels[:5] == ["clip pair", "frames", "bytes", "kbps", "bpp"]
    column = labels.index("ssim_y")
    header.nth(column).click()
    values = page.evaluate(f"""Array.from(document.querySelectorAll('#pairs-table tbody tr'))
        .map(r => parseFloat(r.cells[{column}].getAttribute('data-v')))""")
    assert values == sorted(r["ssim_y"] for r in summary["clips"])
    kbps = page.evaluate("""Array.from(document.querySelectorAll('#pairs-table tbody tr'))
        .map(r => [r.cells[0].textContent, parseFloat(r.cells[3].getAttribute('data-v'))])""")
    assert sorted(kbps) == sorted([r["pair"], r["kbps"]] for r in summary["clips"])
    assert opened.errors == []
    assert opened.blocked == []
    text = (out / "r.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text)


def test_clip_maps_never_overwrite_an_input(clips, tmp_path):
    root, *_ = clips
    result = run_iqa("compare", root / "ref" / "a.y4m", root / "dist" / "a.y4m",
                     "--maps", root / "ref" / "a.y4m")
    assert result.returncode == 2 and "--maps" in result.stderr and "is a file" in result.stderr
    # the map name of a pair is an input: refused, the input kept
    (tmp_path / "a.y4m").write_bytes((root / "dist" / "a.y4m").read_bytes())
    victim = tmp_path / "a.y4m.frame3.ssim_y.png"
    victim.write_bytes(b"keep")
    result = run_iqa("compare", root / "ref" / "a.y4m", tmp_path / "a.y4m", victim,
                     "--maps", tmp_path)
    assert result.returncode == 2, result.stderr
    assert "would replace the input" in result.stderr and victim.name in result.stderr
    assert victim.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.y4m", victim.name]  # nothing else


def test_a_plane_under_the_ssim_window_has_only_the_squared_error_map(tmp_path):
    """A 8x8 clip: no SSIM (its Y plane is smaller than 11x11); the worst frame is then
    the one with the lowest psnr_y, whose squared-error map is written."""
    y = [np.full((8, 8), 100 + 10 * i) for i in range(3)]
    chroma = np.full((4, 4), 128)
    ref = tmp_path / "r.y4m"
    dist = tmp_path / "d.y4m"
    for path, frames in ((ref, [[p, chroma, chroma] for p in y]),
                         (dist, [[p + e, chroma, chroma] for p, e in zip(y, (1, 5, 2))])):
        with open(path, "wb") as f:
            f.write(b"YUV4MPEG2 W8 H8 F25:1 C420jpeg\n")
            for planes in frames:
                f.write(b"FRAME\n" + b"".join(np.asarray(p, np.uint8).tobytes()
                                              for p in planes))
    result = run_iqa("compare", ref, dist, "--maps", tmp_path / "maps")
    assert result.returncode == 0, result.stderr  # ssim_y is null, with a warning
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == [
        "d.y4m.frame1.psnr_y.png", "legend.psnr.png"]


def test_ten_bit_maps_use_the_runs_peak(tmp_path):
    """10-bit samples: SSIM with L = 1023, the squared error drawn in dB with the
    --psnr-peak peak (reduced: 1020), its mean the MSE behind psnr_y at that peak."""
    from iqa.output.maps import colorize
    from iqa.video.worst import FrameY, frame_maps

    rng = np.random.default_rng(1)
    chroma = np.full((H // 2, W // 2), 512)
    refs = [rng.integers(0, 1024, (H, W)) for _ in range(3)]
    dists = [np.clip(y + rng.integers(-k, k + 1, y.shape), 0, 1023)
             for y, k in zip(refs, (4, 40, 8))]
    for path, planes in ((tmp_path / "r.y4m", refs), (tmp_path / "d.y4m", dists)):
        with open(path, "wb") as f:
            f.write(f"YUV4MPEG2 W{W} H{H} F25:1 C420p10 XYSCSS=420P10\n".encode())
            for y in planes:
                f.write(b"FRAME\n" + b"".join(np.asarray(p, "<u2").tobytes()
                                              for p in (y, chroma, chroma)))
    out = tmp_path / "o.jsonl"
    result = run_iqa("compare", tmp_path / "r.y4m", tmp_path / "d.y4m", "--psnr-peak",
                     "reduced", "--maps", tmp_path / "maps", "--format", "jsonl", "-o", out)
    assert result.returncode == 0, result.stderr
    rows = [strict_json(line) for line in out.read_text().splitlines()][:3]
    assert min(range(3), key=lambda i: rows[i]["ssim_y"]) == 1
    ref, dist = refs[1].astype(np.uint16), dists[1].astype(np.uint16)
    maps = frame_maps(FrameY(1, ref, dist, 1023, 10))
    assert math.isclose(float(maps["ssim"][1].mean()), rows[1]["ssim_y"], abs_tol=1e-12)
    mse = float(maps["psnr"][1].mean())
    assert mse == int(((refs[1] - dists[1]) ** 2).sum()) / (W * H)
    assert math.isclose(10 * math.log10(1020 ** 2 / mse), rows[1]["psnr_y"], rel_tol=1e-15)
    for metric, peak in (("psnr", 1020), ("ssim", 1023)):
        png = cv2.imread(str(tmp_path / "maps" / f"d.y4m.frame1.{metric}_y.png"))
        assert np.array_equal(png[:, :, ::-1], colorize(metric, maps[metric][1], (H, W), peak))
    png = cv2.imread(str(tmp_path / "maps" / "d.y4m.frame1.psnr_y.png"))[:, :, ::-1]
    assert not np.array_equal(png, colorize("psnr", maps["psnr"][1], (H, W), 1023))  # not MAX
