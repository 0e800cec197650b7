"""Metric plugins: the entry-point group ``iqa.metrics``.

Built-in metrics are registered through the same group as third-party ones (see
``pyproject.toml``). Names are listed without importing anything; a metric's module is
imported when it is used. A plugin that fails to import, or does not implement the
contract, raises :class:`~iqa.errors.PluginError` naming it; other metrics still work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from iqa.errors import PluginError, UsageError

GROUP = "iqa.metrics"

# Used only when iqa runs from a source tree that was never installed (no metadata).
_BUILTIN = {
    "psnr": "iqa.metrics.psnr:PSNR",
    "ssim": "iqa.metrics.ssim:SSIM",
    "ms_ssim": "iqa.metrics.ms_ssim:MSSSIM",
    "lpips": "iqa.metrics.lpips:LPIPS",
    "fid": "iqa.metrics.fid:FID",
    "kid": "iqa.metrics.kid:KID",
}


@dataclass(frozen=True)
class Registered:
    name: str
    target: str  # "module:Class"
    package: str  # distribution that registered it


@lru_cache(maxsize=1)
def registered() -> dict[str, Registered]:
    """Every registered metric name, without importing any of them."""
    found: dict[str, Registered] = {}
    for ep in entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else "?"
        found.setdefault(ep.name, Registered(ep.name, ep.value, package))
    if not any(r.package == "iqa" for r in found.values()):
        for name, target in _BUILTIN.items():
            found.setdefault(name, Registered(name, target, "iqa"))
    return found


def load(name: str):
    """The metric class registered as ``name``; raises PluginError/UsageError."""
    entry = registered().get(name)
    if entry is None:
        known = ", ".join(sorted(registered())) or "none"
        raise UsageError(f"unknown metric {name!r} (installed: {known}); see `iqa metrics`")
    try:
        cls = EntryPoint(name=name, value=entry.target, group=GROUP).load()
    except Exception as exc:  # a broken plugin must not crash other commands
        raise PluginError(
            f"metric plugin {name!r} ({entry.target}, from package {entry.package}) "
            f"failed to load: {type(exc).__name__}: {exc}"
        ) from None
    info = getattr(cls, "info", None)
    if info is None or getattr(info, "name", None) != name or info.kind not in (
        "pair",
        "distribution",
    ):
        raise PluginError(
            f"metric plugin {name!r} ({entry.target}, from package {entry.package}) does not "
            "implement the metric contract (class attribute `info` with matching name and kind)"
        )
    return cls


def load_all() -> tuple[list, list[str]]:
    """All metric classes that load, and one error line for each that does not."""
    classes, errors = [], []
    for name in sorted(registered()):
        try:
            classes.append(load(name))
        except PluginError as exc:
            errors.append(str(exc))
    return classes, errors
