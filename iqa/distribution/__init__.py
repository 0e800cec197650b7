"""Distribution metrics (FID, KID) between two sets of images: the library side of ``iqa fid``.

(Named ``distribution`` after the metric kind, and not ``fid``, so that the package never
shadows the public function :func:`iqa.fid`.)

* :mod:`iqa.distribution.preprocess` — decoded image → the network's 299×299 input, in
  one of three named resize modes, each reproducing a reference implementation;
* :mod:`iqa.distribution.data` — the streaming pipeline: decoding and resizing in
  DataLoader workers, batches on the device, features folded into statistics as they come;
* :mod:`iqa.distribution.network` — weights and the network, built once per device;
* :mod:`iqa.distribution.stats` — sufficient statistics (n, Σx, XᵀX) in float64, merged
  by addition, and the Fréchet distance;
* :mod:`iqa.distribution.statsfile` — ``.npz`` statistics files (pytorch-fid compatible),
  checked before use;
* :mod:`iqa.distribution.statscache` — the automatic per-folder cache, its key modes,
  and listing and clearing it;
* :mod:`iqa.distribution.options` — the options of a comparison and its report hooks;
* :mod:`iqa.distribution.memory` — sets of images held in memory (arrays, tensors, batches);
* :mod:`iqa.distribution.run` — one comparison of two sets, as ``iqa fid`` and
  :func:`iqa.fid` run it;
* :mod:`iqa.distribution.ranks` — ``iqa fid`` and ``iqa compare`` under ``torchrun``;
* :mod:`iqa.distribution.statsmerge` — ``iqa stats``: statistics files of parts merged.
* :mod:`iqa.distribution.generative` — IS, precision/recall, density/coverage and FD in
  the same run, each on its reference's extractor;
* :mod:`iqa.distribution.genextract`, :mod:`iqa.distribution.companions`,
  :mod:`iqa.distribution.feature_pass` — extractors other than the FID Inception, built
  once per run and fed by the FID pass's decode (or by one more pass when the Inception
  statistics come from the cache).
"""
