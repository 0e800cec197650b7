"""What ``iqa fid`` writes, built by the library: the header of every report and the
flat row of CSV, from one :meth:`~iqa.distribution.run.Comparison.record`.

The header has the keys of ``iqa compare``'s: ``tool``, ``version``, ``command``,
``metrics``, ``definitions`` and ``settings``, so a baseline detects a changed
definition (network, resize mode, weights digest, KID kernel) for both commands alike.
"""

from __future__ import annotations

from typing import IO, Any

#: CSV columns of a comparison, before plugin values and ``gate_failures``.
CSV_COLUMNS = ("real", "fake", "fid", "kid_mean", "kid_std", "resize", "n_real", "n_fake",
               "skipped_real", "skipped_fake", "weights_sha256", "weights_verified")


def header(record: dict[str, Any]) -> dict[str, Any]:
    """The self-describing header of a report about ``record``."""
    from iqa import __version__

    doc: dict[str, Any] = {"tool": "iqa", "version": __version__, "command": "fid"}
    if "definitions" in record:
        doc["metrics"] = list(record["definitions"])
        doc["definitions"] = record["definitions"]
    doc["settings"] = record.get("settings", {})
    return doc


def plugin_keys(record: dict[str, Any]) -> list[str]:
    """Keys of plugin metric values: those of metrics in the definitions besides fid/kid."""
    names = [n for n in record.get("definitions") or {} if n not in ("fid", "kid")]
    return [k for k, v in record.items() if isinstance(v, float)
            and any(k.startswith(n) for n in names)]


def csv_columns(record: dict[str, Any]) -> list[str]:
    """The CSV header for ``record``: a comparison's columns, or a statistics file's keys."""
    if "fid" in record:
        columns = [*CSV_COLUMNS, *plugin_keys(record)]
    else:
        columns = [k for k in record if k not in ("weights", "settings")]
    if "gate_failures" in record:
        columns.append("gate_failures")
    return columns


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with counts and weights as top-level cells (for CSV and the table)."""
    counts = record.get("counts") or {}
    weights = record.get("weights") or {}
    return {**record, "n_real": counts.get("real"), "n_fake": counts.get("fake"),
            "skipped_real": counts.get("skipped_real"), "skipped_fake": counts.get("skipped_fake"),
            "weights_sha256": weights.get("sha256"), "weights_verified": weights.get("verified")}


def quantities(comparison: Any) -> list[Any]:
    """What gates can test in a comparison: fid, kid (kid_mean) and kid_std, plugins."""
    from iqa.gates import Quantity
    from iqa.registry import load

    found = [Quantity.from_info(load("fid").info)]
    if comparison.kid is not None:
        found += [Quantity.from_info(load("kid").info, key="kid_mean"),
                  Quantity("kid_std", higher_is_better=False)]
    for cls in comparison.plugins:
        found.append(Quantity.from_info(cls.info, key=_value_key(cls.info.name,
                                                                 comparison.values)))
    for name, definition in comparison.generative.items():
        if name == "kid":  # KID on another extractor: the same keys as the Inception's
            found += [Quantity.from_info(load("kid").info, key="kid_mean"),
                      Quantity("kid_std", higher_is_better=False)]
            continue
        found.append(Quantity(name, higher_is_better=definition["higher_is_better"]))
    return found


def _value_key(name: str, values: dict[str, float]) -> str:
    """The field a gate on ``name`` reads: ``name`` itself, else the plugin's first value."""
    if name in values:
        return ""
    return next((k for k in values if k.startswith(name)), "")


_SOURCES = {"images": "computed", "cache": "from the cache", "stats file": "statistics file"}


def write_result(record: dict[str, Any], fmt: str, stream: IO[str]) -> None:
    """Write one ``iqa fid`` result through the writer protocol of :mod:`iqa.output`.

    ``begin`` gets the columns and the header, then: CSV a header line and one row;
    JSON Lines the result line, then the summary line with the header; JSON and the
    table one result (:func:`~iqa.output.make_writer` with ``one_result``): the header and
    the record at the top level of the document (the shape baselines read), or aligned
    "name  value" lines from :func:`table_rows`.
    """
    from iqa.output import make_writer

    writer = make_writer(fmt, stream, one_result=table_rows)
    writer.begin(csv_columns(record), header(record))
    if fmt == "csv":
        writer.row(flat(record))
    elif fmt == "jsonl":
        writer.row({k: v for k, v in record.items() if k not in ("definitions", "settings")})
    writer.end({} if fmt == "jsonl" else record)


def table_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The table of one result: (name, value) lines for people."""
    flattened = flat(record) if "fid" in record else {}
    rows: list[tuple[str, str]] = []
    if "fid" in record:
        rows.append(("FID", f"{record['fid']:.4f}"))
        if "kid_mean" in record:
            rows.append(("KID", f"{record['kid_mean']:.6f} ± {record['kid_std']:.6f}"))
        for key in plugin_keys(record):
            rows.append((key, f"{record[key]:.6g}"))
        for side in ("real", "fake"):
            skipped = flattened[f"skipped_{side}"]
            note = f", {skipped} skipped" if skipped else ""
            count = flattened[f"n_{side}"]
            source = _SOURCES.get(record["sources"][side], record["sources"][side])
            size = (f"{count} images{note}" if count is not None
                    else "number of images not recorded")
            rows.append((side, f"{record[side]} ({size}, {source})"))
        rows.append(("resize", record["resize"]))
    else:
        rows += [("statistics", record["stats_file"]), ("images", str(record["n"])),
                 ("resize", record["resize"])]
    weights = record.get("weights")
    if weights:
        state = "verified" if weights["verified"] else "UNVERIFIED"
        rows.append(("weights", f"{weights['file']} ({state}, sha256 {weights['sha256'][:12]})"))
    return rows
