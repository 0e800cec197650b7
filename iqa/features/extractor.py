"""The feature-extractor contract: what ``iqa fid`` asks of a network that turns images into
feature vectors.

An extractor is a class registered under the entry-point group ``iqa.extractors`` (see
:mod:`iqa.features.registry`). It declares what it is in a class attribute :attr:`info`
(:class:`ExtractorInfo`: name, feature dimension, input size, layer, preprocessing modes
each naming the tool it reproduces, weights catalog entries) and is built from state
dicts the weights manager read and verified. Built on a device, it takes a batch of
8-bit RGB images (uint8 N×3×H×W, all one size, on any device) and returns features
(float32 N×dim): :meth:`FeatureExtractor.features` runs its preprocessing, then its
network. Everything about one network's input size, scaling and feature dimension lives
in its own module; the pipeline knows only this contract.

Importing an extractor module imports no torch: :attr:`info` is plain data, so
``iqa metrics`` lists extractors on an install without torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Preprocessing:
    """One named way to turn 8-bit pixels into the network's input."""

    name: str
    description: str
    reproduces: str  # the reference tool whose numbers this mode gives


@dataclass(frozen=True)
class ExtractorInfo:
    """What an extractor is (see the module docstring)."""

    name: str
    dim: int
    input_size: int
    layer: str  # which activation the features are, e.g. "pool3", "fc2 after ReLU"
    network_id: str  # network and layer, recorded in reports and statistics files
    preprocessing: tuple[Preprocessing, ...]  # the first one is the default
    weights: tuple[str, ...]  # names in the weights catalog (iqa.weights.catalog)
    reference: str  # the paper or tool the network comes from
    extra: str | None = "torch"  # the pip extra it needs (iqa.extras)

    @property
    def default_preprocessing(self) -> str:
        return self.preprocessing[0].name

    def mode(self, name: str | None) -> Preprocessing:
        """The preprocessing ``name`` (the default when ``None``); UsageError otherwise."""
        if name is None:
            return self.preprocessing[0]
        for mode in self.preprocessing:
            if mode.name == name:
                return mode
        from iqa.errors import UsageError

        raise UsageError(f"extractor {self.name} has no preprocessing {name!r}; its modes: "
                         f"{', '.join(m.name for m in self.preprocessing)}")

    def describe(self, preprocessing: str | None = None) -> dict[str, Any]:
        """What a report says about features from this extractor."""
        mode = self.mode(preprocessing)
        return {"extractor": self.name, "network": self.network_id, "layer": self.layer,
                "dim": self.dim, "input_size": self.input_size, "preprocessing": mode.name,
                "preprocessing_definition": mode.description, "reproduces": mode.reproduces}


class FeatureExtractor(ABC):
    """A network built once for a device; see the module docstring."""

    info: ClassVar[ExtractorInfo]

    def __init__(self, states: Mapping[str, Mapping[str, Any]], device: str = "cpu",
                 preprocessing: str | None = None) -> None:
        """``states`` holds one checked state dict per name in ``info.weights``."""
        self.preprocessing = self.info.mode(preprocessing).name
        self.device = device

    @abstractmethod
    def preprocess(self, images: Any) -> Any:
        """uint8 N×3×H×W (one size) → the network's input, on :attr:`device`."""

    @abstractmethod
    def __call__(self, x: Any) -> Any:
        """The network's input → float32 N×dim features."""

    def features(self, images: Any) -> Any:
        """uint8 N×3×H×W → float32 N×dim: preprocessing, then the network."""
        return self(self.preprocess(images))
