"""Metric plugins: the entry-point group ``iqa.metrics``.

Built-in metrics are registered through the same group as third-party ones (see
``pyproject.toml``). Names are listed without importing anything; a metric's module is
imported when it is used. A plugin that fails to import, or does not implement the
contract, raises :class:`~iqa.errors.PluginError` naming it; other metrics still work.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from iqa.errors import PluginError, UsageError

#: The pair metrics ``iqa compare`` and :func:`iqa.compare_files` score when none are named.
DEFAULT_METRICS = "psnr,ssim,ms_ssim"

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


#: Spellings accepted for a metric besides its name, after normalisation (see _key).
ALIASES = {"multiscalessim": "ms_ssim"}


@dataclass(frozen=True)
class Registered:
    name: str
    target: str  # "module:Class"
    package: str  # distribution that registered it


def scan_group(group: str, builtin: Mapping[str, str]) -> dict[str, Registered]:
    """Every name registered in the entry-point ``group``, without importing any of them;
    ``builtin`` (name → "module:Class") stands in for iqa's own entries that the installed
    metadata lacks (iqa run from a source tree newer than its install)."""
    found: dict[str, Registered] = {name: Registered(name, target, "iqa")
                                    for name, target in builtin.items()}
    shadowed = SHADOWED.setdefault(group, [])
    shadowed.clear()
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist is not None else "?"
        if package == "iqa":
            found[ep.name] = Registered(ep.name, ep.value, package)  # the installed entry
        elif ep.name in found:
            # iqa's own metrics and another plugin's keep their name: a plugin cannot
            # replace what a run would otherwise compute (which would depend on the
            # order of sys.path); it is named, not silently dropped.
            shadowed.append(f"plugin {ep.name!r} ({ep.value}, from package {package}) is "
                            f"not used: {found[ep.name].package} already registers "
                            f"{ep.name!r}; rename it")
        else:
            found[ep.name] = Registered(ep.name, ep.value, package)
    return found


#: Per entry-point group: plugins left out because their name was taken (one line each).
SHADOWED: dict[str, list[str]] = {}


def load_target(kind: str, entry: Registered, group: str) -> Any:
    """Import what ``entry`` names; a failure is one :class:`PluginError` naming the
    ``kind`` of plugin ("metric", "extractor"), its target and its package."""
    try:
        return EntryPoint(name=entry.name, value=entry.target, group=group).load()
    except Exception as exc:  # a broken plugin must not crash other commands
        raise PluginError(
            f"{kind} plugin {entry.name!r} ({entry.target}, from package {entry.package}) "
            f"failed to load: {type(exc).__name__}: {exc}"
        ) from None


@lru_cache(maxsize=1)
def registered() -> dict[str, Registered]:
    """Every registered metric name, without importing any of them."""
    return scan_group(GROUP, _BUILTIN)


def load(name: str):
    """The metric class registered as ``name``; raises PluginError/UsageError."""
    entry = registered().get(name)
    if entry is None:
        known = ", ".join(sorted(registered())) or "none"
        raise UsageError(f"unknown metric {name!r} (installed: {known}); see `iqa metrics`")
    cls = load_target("metric", entry, GROUP)
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
    """All metric classes that load, and one error line for each that does not (or whose
    name was taken)."""
    classes, errors = load_each(registered(), load)
    return classes, SHADOWED.get(GROUP, []) + errors


def load_each(names: Iterable[str], loader: Callable[[str], type]) -> tuple[list, list[str]]:
    """``loader(name)`` for each name in sorted order: the classes that load, and one
    error line for each plugin that does not (metrics and feature extractors alike)."""
    classes, errors = [], []
    for name in sorted(names):
        try:
            classes.append(loader(name))
        except PluginError as exc:
            errors.append(str(exc))
    return classes, errors


def _key(name: str) -> str:
    """Case, '-', '_' and spaces do not matter: MS-SSIM, ms_ssim and msssim are one."""
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def pair_metric_names() -> list[str]:
    """Registered pair metrics that load: the built-ins in their usual order, then the
    others sorted by name."""
    order = list(_BUILTIN)
    names = sorted(registered(), key=lambda n: (order.index(n) if n in order else len(order), n))
    pairs = []
    for name in names:
        try:
            if load(name).info.kind == "pair":
                pairs.append(name)
        except PluginError:  # listed by `iqa metrics` with its error
            continue
    return pairs


def resolve_pair_metrics(
    spec: str,
    *,
    params: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[str]:
    """The pair metric names in a ``-m`` value, in order, without duplicates.

    * Names are matched ignoring case, ``-``, ``_`` and spaces (``MS-SSIM``, ``msssim``
      and ``ms_ssim`` are one metric), plus :data:`ALIASES`.
    * ``all`` is every pair metric that can run here: a metric whose class says it is
      :meth:`~iqa.metrics.base.PairMetric.unavailable` (LPIPS without torch/lpips, or
      without its weights while ``IQA_OFFLINE=1``) is left out with one note to ``warn``.
      ``params`` are the run's metric parameters (e.g. ``lpips.net``), so the check is
      made for the trunk that would be used. A metric named explicitly is kept and
      fails later with its own error.
    * An unknown name is a :class:`UsageError` with a "did you mean" and the list of
      pair metrics; a distribution metric (``fid``, ``kid``) says which command to use.
    """
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise UsageError("-m/--metrics: give at least one metric name (see `iqa metrics`)")
    lookup = {_key(name): name for name in sorted(registered())}
    lookup.update({k: v for k, v in ALIASES.items() if v in registered()})
    names: list[str] = []
    for item in items:
        if _key(item) == "all":
            names += _available_pair_metrics(params or {}, warn)
            continue
        name = lookup.get(_key(item))
        if name is None:
            raise UsageError(_unknown_message(item, lookup))
        if load(name).info.kind != "pair":
            how = "" if name == "fid" else f" --metric {name}"
            raise UsageError(
                f"-m {item}: {name} compares two sets of images, not pairs; "
                f"use `iqa fid REAL FAKE{how}`"
            )
        names.append(name)
    return list(dict.fromkeys(names))


def _available_pair_metrics(
    params: Mapping[str, Any], warn: Callable[[str], None] | None
) -> list[str]:
    from iqa.metrics.base import MetricOptions

    options = MetricOptions(params=dict(params))
    names = []
    for name in pair_metric_names():
        check = getattr(load(name), "unavailable", None)
        reason = check(options) if callable(check) else None
        if reason:
            if warn is not None:
                warn(f"-m all: {name} skipped: {reason}")
            continue
        names.append(name)
    return names


def _unknown_message(item: str, lookup: Mapping[str, str]) -> str:
    pairs = pair_metric_names()
    keys = {k: v for k, v in lookup.items() if v in pairs}
    close = difflib.get_close_matches(_key(item), list(keys), n=1, cutoff=0.6)
    hint = f"did you mean '{keys[close[0]]}'? " if close else ""
    return (f"-m {item}: unknown metric; {hint}pair metrics: {', '.join(pairs)} "
            "or all (see `iqa metrics`)")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_metric_options(items: Iterable[str]) -> dict[str, str]:
    """``["lpips.net=vgg", "kid.subsets=10"]`` → ``{"lpips.net": "vgg", ...}`` (values
    still text; :func:`validate_params` converts them). A later item wins."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        metric, dot, option = key.strip().partition(".")
        if not (sep and dot and metric and option):
            raise UsageError(f"metric option {item!r}: expected METRIC.OPTION=VALUE, "
                             "e.g. lpips.net=vgg (see `iqa metrics`)")
        params[f"{metric.lower()}.{option}"] = value.strip()
    return params


def validate_params(params: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The options of the metrics ``names``: every option each declares (its ``default``
    when not given), converted to its declared type.

    A key is ``"<metric>.<option>"``. A metric not among ``names``, an option the metric
    does not declare, a value of the wrong type or outside the declared choices is a
    :class:`UsageError` naming the metric and the options it takes.
    """
    names = list(names)
    declared = {name: {o.name: o for o in getattr(load(name).info, "options", ())}
                for name in names}
    out: dict[str, Any] = {f"{name}.{o.name}": o.default
                           for name, options in declared.items() for o in options.values()}
    for key, value in params.items():
        metric, _, option_name = key.partition(".")
        if metric not in declared:
            raise UsageError(f"metric option {key}: {metric} is not one of the metrics of "
                             f"this run ({', '.join(names) or 'none'})")
        options = declared[metric]
        if option_name not in options:
            takes = (f"its options: {', '.join(options)}" if options
                     else f"{metric} takes no options")
            raise UsageError(f"metric option {key}: {metric} has no option "
                             f"{option_name!r}; {takes}")
        out[key] = _convert(key, value, options[option_name])
    return out


def _convert(key: str, value: Any, option: Any) -> Any:
    kind = option.type
    converted = value
    if kind is bool and isinstance(value, str):
        if value.lower() not in _TRUE + _FALSE:
            raise UsageError(f"metric option {key}={value}: expected true or false")
        converted = value.lower() in _TRUE
    elif kind in (int, float) and (isinstance(value, str) or
                                   (kind is float and isinstance(value, int))):
        try:
            converted = kind(value)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise UsageError(f"metric option {key}={value}: expected {noun}") from None
    if not isinstance(converted, kind) or (kind is not bool and isinstance(converted, bool)):
        raise UsageError(f"metric option {key}={value!r}: expected {kind.__name__}")
    if option.choices is not None and converted not in option.choices:
        raise UsageError(f"metric option {key}={value}: must be one of "
                         f"{', '.join(map(str, option.choices))}")
    return converted
