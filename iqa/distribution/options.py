"""The options of one comparison (:class:`FIDOptions`) and where it reports (:class:`Hooks`).

The library prints nothing: warnings go to ``Hooks.warn``, which by default issues a
:class:`FIDWarning` through :mod:`warnings`; ``iqa fid`` prints them as one line each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iqa.device import check_device
from iqa.distribution.data import DecodeSettings
from iqa.distribution.preprocess import resize_mode
from iqa.errors import InvalidType
from iqa.io.policy import DEFAULT_MAX_IMAGE_MB
from iqa.metrics.kid import DEFAULT_SEED, DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS
from iqa.params import invalid

#: NumPy's ``RandomState`` takes seeds 0 .. 2^32 − 1 (KID's subsets, ``limit_seed``).
_MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class FIDOptions:
    """Everything that decides how a comparison is computed (see :func:`iqa.fid`)."""

    resize: str = "tf"
    weights: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    cache: bool = True
    cache_key: str | None = None  # "stat" or "content"; None: $IQA_CACHE_KEY, else "stat"
    skip_bad: bool = False
    alpha: str = "drop"
    exif: bool = False
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB
    accept_jpeg_warnings: bool = False
    kid: bool = False
    kid_subsets: int = DEFAULT_SUBSETS
    kid_subset_size: int = DEFAULT_SUBSET_SIZE
    seed: int = DEFAULT_SEED
    limit: int | None = None  # use only this many files of each folder
    limit_seed: int | None = None  # None: the first files in sorted order; else seeded random
    #: Further registered distribution metrics to compute from the same features (plugins).
    metrics: tuple[str, ...] = ()
    #: Their options, ``{"<metric>.<option>": value}`` (see :func:`iqa.registry.validate_params`).
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Extractor of fd, kid, precision, recall, density, coverage, ``NAME`` or ``NAME:MODE``
    #: with one of its preprocessing modes (see iqa.distribution.generative).
    features: str | None = None
    #: The resize mode statistics files were computed with, where they do not record it
    #: (pytorch-fid's .npz); checked against --resize (iqa.distribution.provenance).
    stats_resize: str | None = None

    def check(self) -> None:
        """Refuse a value that cannot work: :class:`~iqa.errors.InvalidArgument` naming
        the parameter (``resize=``, ``kid_subsets=``); ``iqa fid`` shows the flag."""
        from iqa.distribution.statscache import key_mode

        resize_mode(self.resize)
        if self.stats_resize is not None:
            from iqa.distribution.preprocess import RESIZE_MODES

            if self.stats_resize not in RESIZE_MODES:
                raise invalid("stats_resize", f"{self.stats_resize!r}: must be one of "
                              f"{', '.join(RESIZE_MODES)}")
        check_device(self.device)
        if self.cache:
            key_mode(self.cache_key)
        self.decode.check()
        limits = (("batch_size", self.batch_size, 1), ("workers", self.workers, 0),
                  ("kid_subsets", self.kid_subsets, 1),
                  ("kid_subset_size", self.kid_subset_size, 2), ("limit", self.limit, 2),
                  ("seed", self.seed, 0), ("limit_seed", self.limit_seed, 0))
        for name, value, low in limits:
            if value is None and name != "seed":  # None: the default (seed has one)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidType(f"{name}={value!r}: must be a whole number")
            if value < low:
                raise invalid(name, f"{value}: must be at least {low}")
            if name.endswith("seed") and value > _MAX_SEED:
                raise invalid(name, f"{value}: a seed of NumPy's RandomState is at most "
                              f"{_MAX_SEED} (2^32 - 1)")
        if self.limit_seed is not None and self.limit is None:
            raise invalid("limit_seed", f"{self.limit_seed}: chooses which files limit keeps; "
                          "give limit too")
        self.plugins()
        from iqa.distribution.generative import check

        check(self.metrics, self.features, dict(self.params))

    def plugins(self) -> list[Any]:
        """The classes of :attr:`metrics` other than ``fid`` and ``kid``, checked: each is
        a registered distribution metric on the FID Inception's features, and
        :attr:`params` are options they declare."""
        from iqa.distribution.generative import METRICS
        from iqa.registry import load, validate_params

        classes = []
        for name in dict.fromkeys(self.metrics):
            if name in ("fid", "kid") or name in METRICS:  # generative: not plugins
                continue
            cls = load(name)
            if cls.info.kind != "distribution":
                raise invalid("metrics", f"{name!r}: compares pairs of images; use "
                              "`iqa compare -m` for it")
            if cls.info.needs != "network:fid-inception":
                raise invalid("metrics", f"{name!r}: needs {cls.info.needs}, and this run "
                              "extracts network:fid-inception features only")
            classes.append(cls)
        validate_params({k: v for k, v in self.params.items()
                         if k.partition(".")[0] not in METRICS}, [c.info.name for c in classes])
        return classes

    @property
    def with_kid(self) -> bool:
        """The FID pipeline computes KID on the Inception: asked for with ``kid`` or named
        in :attr:`metrics`, and :attr:`features` is not another extractor (then KID is one
        of the generative metrics, :func:`iqa.distribution.generative.kid_moves`)."""
        from iqa.distribution.generative import kid_moves

        return (self.kid or "kid" in self.metrics) and not kid_moves(self.features)

    def need_features(self, side: str | None = None) -> str:
        """What keeps every image's features (of ``side``, "real" or "fake"; None: of
        either), named for messages: KID, a generative metric that reads them (IS: the
        FAKE set's only), a plugin that takes features; "" when nothing does."""
        from iqa.distribution.generative import inception_feature_users

        users = ["KID"] if self.with_kid else []
        users += inception_feature_users(self.metrics, self.features, side)
        users += [c.info.name for c in self.plugins()
                  if getattr(c, "inputs", "stats") == "features"]
        return ", ".join(dict.fromkeys(u.upper() if u in ("is", "kid") else u for u in users))

    def limit_record(self, available: dict[str, int | None]) -> dict[str, Any] | None:
        """How ``limit`` chose the files (``None`` without a limit), for reports."""
        if self.limit is None:
            return None
        selection = (f"first {self.limit} in sorted order" if self.limit_seed is None else
                     f"{self.limit} chosen at random (seed {self.limit_seed})")
        return {"count": self.limit, "seed": self.limit_seed, "selection": selection,
                "available": available}

    @property
    def decode(self) -> DecodeSettings:
        return DecodeSettings(resize=self.resize, alpha=self.alpha, exif=self.exif,
                              max_image_mb=self.max_image_mb,
                              accept_jpeg_warnings=self.accept_jpeg_warnings)


class FIDWarning(UserWarning):
    """What makes an FID or KID hard to compare: unverified weights, few images, mixed
    settings. The library issues these through :mod:`warnings` (filter them as usual);
    ``iqa fid`` prints each as one ``iqa: warning: ...`` line instead."""


def _ignore(message: str) -> None:
    pass


def python_warning(message: str) -> None:
    """The library's default ``warn`` hook: a :class:`FIDWarning`."""
    import warnings

    warnings.warn(message, FIDWarning, stacklevel=4)


@dataclass
class Hooks:
    """Where a run reports: one-line warnings and notes, progress bars, downloads."""

    warn: Callable[[str], None] = _ignore
    info: Callable[[str], None] = _ignore
    # (label, total) -> context manager yielding advance(k)
    progress: Callable[[str, int], AbstractContextManager[Callable[[int], None]]] | None = None
    download: Callable[[str], AbstractContextManager[Any]] | None = None
