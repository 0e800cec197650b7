"""Feature-extractor plugins: the entry-point group ``iqa.extractors``.

Built-in extractors (``inception``, ``vgg16``, ``clip-vit-b-32``, ``clip-vit-l-14-336``,
``dinov2-vit-l-14``) are registered through the same group as
third-party ones (see ``pyproject.toml``), as metrics are in :mod:`iqa.registry`. Names
are listed without importing anything; an extractor's module is imported when it is
used, and importing it imports no torch (see :mod:`iqa.features.extractor`). A plugin
that fails to import, or does not implement the contract, raises
:class:`~iqa.errors.PluginError` naming it; other extractors still work.
"""

from __future__ import annotations

from functools import lru_cache

from iqa.errors import PluginError, UsageError
from iqa.registry import Registered, load_each, load_target, scan_group

GROUP = "iqa.extractors"

# Used only when iqa runs from a source tree whose installed metadata lacks the group.
_BUILTIN = {
    "inception": "iqa.features.fid_inception:InceptionExtractor",
    "vgg16": "iqa.features.vgg16_pr:VGG16Extractor",
    "clip-vit-b-32": "iqa.features.clip_vit_b_32:ClipViTB32Extractor",
    "clip-vit-l-14-336": "iqa.features.clip_vit_l_14_336:ClipViTL14336Extractor",
    "dinov2-vit-l-14": "iqa.features.dinov2_vit_l_14:DINOv2Extractor",
}


@lru_cache(maxsize=1)
def registered() -> dict[str, Registered]:
    """Every registered extractor name, without importing any of them."""
    return scan_group(GROUP, _BUILTIN)


def load(name: str) -> type:
    """The extractor class registered as ``name``; raises PluginError/UsageError."""
    entry = registered().get(name)
    if entry is None:
        known = ", ".join(sorted(registered())) or "none"
        raise UsageError(f"unknown feature extractor {name!r} (installed: {known}); "
                         "see `iqa metrics`")
    where = f"({entry.target}, from package {entry.package})"
    cls = load_target("extractor", entry, GROUP)
    from iqa.features.extractor import ExtractorInfo, FeatureExtractor

    info = getattr(cls, "info", None)
    valid = (isinstance(cls, type) and issubclass(cls, FeatureExtractor)
             and isinstance(info, ExtractorInfo) and info.name == name
             and isinstance(info.dim, int) and info.dim > 0 and bool(info.preprocessing))
    if not valid:
        raise PluginError(
            f"extractor plugin {name!r} {where} does not implement the extractor contract "
            "(a subclass of iqa.features.extractor.FeatureExtractor whose `info` is an "
            "ExtractorInfo with this name, a positive dim and at least one preprocessing)")
    return cls


def load_all() -> tuple[list[type], list[str]]:
    """All extractor classes that load, and one error line for each that does not (or
    whose name was taken)."""
    from iqa.registry import SHADOWED

    classes, errors = load_each(registered(), load)
    return classes, SHADOWED.get(GROUP, []) + errors


def split_features(features: str | None) -> tuple[str | None, str | None]:
    """``--features NAME[:MODE]`` → (extractor name, preprocessing mode or None for the
    extractor's default), e.g. ``dinov2-vit-l-14:torch``."""
    if features is None:
        return None, None
    name, _, mode = features.partition(":")
    return name, mode or None
