"""The metric contract that built-in metrics and plugins implement.

A metric is a class registered under the entry-point group ``iqa.metrics``. It declares
what it is in a class attribute :attr:`info` and does one thing:

* a :class:`PairMetric` scores batches of (reference, distorted) image pairs;
* a :class:`DistributionMetric` compares two sets of images through features.

A metric declares the options it takes (:class:`Option`: name, type, default, help) in
``info.options``; a run hands them over as ``options.params["<metric>.<option>"]``,
validated and with defaults filled in by :func:`iqa.registry.validate_params`.

The command line only knows this contract, so a metric from another package appears in
``iqa metrics`` and ``iqa compare -m NAME`` without any change to ``iqa``. Importing a
metric module must be cheap: heavy imports (torch, networks) belong inside methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from iqa.io.images import Image

PAIR = "pair"
DISTRIBUTION = "distribution"


@dataclass(frozen=True)
class Option:
    """One option a metric takes, e.g. ``Option("net", str, "alex", "trunk", ("alex", "vgg"))``.

    ``type`` is ``bool``, ``int``, ``float`` or ``str``; values given as text (from the
    command line) are converted to it. ``choices``, when given, are the allowed values.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is: shown by ``iqa metrics`` and written into JSON reports."""

    name: str
    kind: Literal["pair", "distribution"]
    higher_is_better: bool
    needs: str  # "pixels", or the network/features it needs, e.g. "network:lpips"
    definition: str  # one line, with the citation
    unit: str = ""
    extra: str | None = None  # the pip extra it needs beyond `pip install iqa` (iqa.extras)
    options: tuple[Option, ...] = ()  # what it takes in MetricOptions.params


def _ignore(message: str) -> None:
    pass


@dataclass
class MetricOptions:
    """Run-wide settings handed to every metric when it is built (once per run)."""

    device: str = "auto"
    batch_size: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # "psnr.luma": True, ...
    warn: Callable[[str], None] = _ignore  # one line for stderr (and reports)
    # label -> context manager yielding a progress(done, total) callback for downloads
    download_progress: Callable[[str], AbstractContextManager[Any]] | None = None


class PairMetric(ABC):
    """A full-reference metric: one number per (reference, distorted) pair."""

    info: ClassVar[MetricInfo]
    #: Score after the other metrics of a batch (to reuse what they computed, as PSNR
    #: takes SSIM's squared error); the order of the report does not change.
    run_late: ClassVar[bool] = False

    def __init__(self, options: MetricOptions | None = None) -> None:
        self.options = options or MetricOptions()

    @abstractmethod
    def score(self, pairs: Sequence[tuple[Image, Image]]) -> list[float | None]:
        """Score a batch of pairs (same order). Raise ``InputError`` for a bad pair.

        Never return NaN or inf for a number that could not be computed: raise
        ``InputError`` with the reason (``inf`` is only for a defined infinite value,
        such as the PSNR of identical images).
        """

    @classmethod
    def unavailable(cls, options: MetricOptions) -> str | None:
        """Why this metric cannot run here, or None (the default: it always can).

        For example a package that is not installed, or weights that are missing while
        downloads are off. Must be cheap: no heavy imports, no downloads. ``-m all``
        skips a metric that gives a reason, with a one-line note; a metric named
        explicitly is built anyway and fails with its own error.
        """
        return None

    def check(self, ref: Image, dist: Image) -> None:  # noqa: B027 - optional hook
        """Raise ``InputError`` if this pair cannot be scored (e.g. too small).

        The pair then gets ``null`` for this metric with the message as its reason, and
        the pair's other metrics are still computed.
        """

    def alongside(self, names: Collection[str]) -> None:  # noqa: B027 - optional hook
        """Told the names of all the metrics that score the same pairs in this run, so
        that it can leave work for another (SSIM makes MS-SSIM's second scale in its
        pass). Values never depend on it."""

    def annotate(self, value: float | None) -> dict[str, Any]:
        """Extra per-pair fields for reports (e.g. ``psnr_band``); keys start with the name."""
        return {}

    def describe(self) -> dict[str, Any]:
        """The exact definition used, for the ``definitions`` block of JSON reports."""
        return {"definition": self.info.definition}

    @property
    def preferred_batch(self) -> int:
        """How many pairs :meth:`score` wants at once (1 for per-image metrics)."""
        return 1


class DistributionMetric(ABC):
    """A metric between two sets of images, computed from features of each set.

    ``needs`` in :attr:`info` names the extractor (``"network:fid-inception"``, the only
    one so far). :attr:`inputs` says what :meth:`compute` is given for each set:
    ``"stats"`` (an object with ``mean``, ``cov`` and ``n``, e.g.
    :class:`~iqa.distribution.run.SetSummary`) or ``"features"`` (an N×d float32 array;
    the run then keeps every image's features, 8 KiB each for the Inception).
    """

    info: ClassVar[MetricInfo]
    inputs: ClassVar[Literal["stats", "features"]] = "stats"

    def __init__(self, options: MetricOptions | None = None) -> None:
        self.options = options or MetricOptions()

    @abstractmethod
    def compute(self, real: Any, fake: Any) -> dict[str, Any]:
        """Compare two sets (see :attr:`inputs`) and return the named values, each key
        starting with ``info.name``; the first is the metric's value, which gates on
        ``info.name`` test (``fid``; ``kid_mean`` for ``kid``). Raise ``InputError`` for
        a value that cannot be computed."""
