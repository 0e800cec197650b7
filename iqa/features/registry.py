"""Feature-extractor plugins: the entry-point group ``iqa.extractors``.

Built-in extractors (``inception``, ``vgg16``) are registered through the same group as
third-party ones (see ``pyproject.toml``), as metrics are in :mod:`iqa.registry`. Names
are listed without importing anything; an extractor's module is imported when it is
used, and importing it imports no torch (see :mod:`iqa.features.extractor`). A plugin
that fails to import, or does not implement the contract, raises
:class:`~iqa.errors.PluginError` naming it; other extractors still work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from iqa.errors import PluginError, UsageError

GROUP = "iqa.extractors"

# Used only when iqa runs from a source tree whose installed metadata lacks the group.
_BUILTIN = {
    "inception": "iqa.features.fid_inception:InceptionExtractor",
    "vgg16": "iqa.features.vgg16_pr:VGG16Extractor",
}


@dataclass(frozen=True)
class Registered:
    name: str
    target: str  # "module:Class"
    package: str  # distribution that registered it


@lru_cache(maxsize=1)
def registered() -> dict[str, Registered]:
    """Every registered extractor name, without importing any of them."""
    found: dict[str, Registered] = {}
    for ep in entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else "?"
        found.setdefault(ep.name, Registered(ep.name, ep.value, package))
    if not any(r.package == "iqa" for r in found.values()):
        for name, target in _BUILTIN.items():
            found.setdefault(name, Registered(name, target, "iqa"))
    return found


def load(name: str) -> type:
    """The extractor class registered as ``name``; raises PluginError/UsageError."""
    entry = registered().get(name)
    if entry is None:
        known = ", ".join(sorted(registered())) or "none"
        raise UsageError(f"unknown feature extractor {name!r} (installed: {known}); "
                         "see `iqa metrics`")
    where = f"({entry.target}, from package {entry.package})"
    try:
        cls = EntryPoint(name=name, value=entry.target, group=GROUP).load()
    except Exception as exc:  # a broken plugin must not crash other commands
        raise PluginError(f"extractor plugin {name!r} {where} failed to load: "
                          f"{type(exc).__name__}: {exc}") from None
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
    """All extractor classes that load, and one error line for each that does not."""
    classes, errors = [], []
    for name in sorted(registered()):
        try:
            classes.append(load(name))
        except PluginError as exc:
            errors.append(str(exc))
    return classes, errors
