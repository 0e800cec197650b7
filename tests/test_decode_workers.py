"""compare's decoding in worker processes (used when a metric runs on a GPU) gives the
same pairs, pixels, rates and errors, in the same order, as its decoding threads."""

import numpy as np
from PIL import Image

from iqa.errors import InputError
from iqa.io.pairing import pair_inputs
from iqa.pair_loading import LoadSettings, _prefetched


def _folders(tmp_path):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    rng = np.random.default_rng(7)
    for i in range(11):
        a = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(a).save(ref / f"{i:02d}.png")
        b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
        Image.fromarray(b).save(dist / f"{i:02d}.png")
    (dist / "03.png").write_bytes(b"not an image")  # unreadable
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(dist / "07.png")  # other size
    return ref, dist


def _flatten(items):
    out = []
    for pair, loaded in items:
        if isinstance(loaded, InputError):
            out.append((pair.key, type(loaded).__name__, str(loaded), loaded.path))
        else:
            ref, dist = loaded
            out.append((pair.key, ref.pixels.tobytes(), dist.pixels.tobytes(), ref.bits,
                        dict(loaded.rate), [y.pixels.tobytes() for y in loaded.luma]))
    return out


def test_processes_equal_threads(tmp_path):
    ref, dist = _folders(tmp_path)
    pairs = pair_inputs(str(ref), str(dist), pair_by="path").pairs
    settings = LoadSettings(luma=True, crop_border=2).check()
    threads = _flatten(_prefetched(pairs, settings, ahead=3))
    processes = _flatten(_prefetched(pairs, settings, ahead=3, processes=True))
    assert processes == threads
    assert [row[0] for row in processes] == [p.key for p in pairs]
    errors = [row for row in processes if row[1] in ("InputError", "ImageSizeError")]
    assert len(errors) == 2 and "03.png" in errors[0][2] and "07.png" in errors[1][2]
