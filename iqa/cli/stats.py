"""``iqa stats show`` and ``iqa stats merge``: look into and combine statistics files.

The logic is :mod:`iqa.distribution.statsmerge`; this module parses and prints.
"""

from __future__ import annotations

from typing import Any

import click

from iqa.cli._common import say, warn


@click.group()
def stats() -> None:
    """Statistics files (.npz of mu, sigma, n) written by `iqa fid FOLDER --save-stats`,
    and other tools' reference statistics (`iqa stats show` only)."""


_FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                       show_default=True, help="table (for people) or json.")


@stats.command("show")
@click.argument("file", type=click.Path())
@_FORMAT
def show(file: str, fmt: str) -> None:
    """What a statistics file holds: image count, network, preprocessing, weights digest.

    Other tools' files too (pytorch-fid, clean-fid, ADM .npz; torch-fidelity .pt; EDM2
    .pkl): what the file says, and what iqa assumes where it says nothing.

    \b
    iqa stats show val.npz
    iqa stats show img512.pkl
    """
    from iqa.distribution.statsmerge import describe

    _print(describe(file), fmt)


@stats.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), metavar="FILE.npz",
              help="The merged statistics file (written atomically; never one of the inputs).")
@_FORMAT
def merge(files: tuple[str, ...], output: str, fmt: str) -> None:
    """Merge statistics files of disjoint parts of one set into the set's statistics.

    Exact: the sums n, Σx and XᵀX of each part are recovered from its n, mu and sigma
    and added. Files of different networks, weights or preprocessing, or without n,
    are refused. Features (saved with --kid) are concatenated in the order given.

    \b
    iqa fid part-03/ --save-stats part-03.npz      # one per array job
    iqa stats merge part-*.npz -o all.npz
    """
    from iqa.distribution.statsmerge import merge_files

    record = merge_files(list(files), output, warn=warn)
    say(f"wrote statistics of {record['n']} images from {len(files)} files to {output}")
    _print(record, fmt)


def _print(record: dict[str, Any], fmt: str) -> None:
    from iqa.output import open_output
    from iqa.output.values import dumps

    with open_output(None, machine=fmt == "json") as stream:
        if fmt == "json":
            stream.write(dumps({"tool": "iqa", **record}, indent=2) + "\n")
            return
        weights = record["weights"]
        rows = [("file", record["file"])]
        if record["tool"] != "iqa":
            entry = f", entry {record['entry']}" if record["entry"] else ""
            others = (f" (holds {', '.join(record['entries'])})"
                      if record["entries"] and len(record["entries"]) > 1 else "")
            rows.append(("format", f"{record['tool']}: {record['format']}{entry}{others}"))
        rows += [("images", "not recorded" if record["n"] is None else str(record["n"])),
                 ("network", record["network"] or "not recorded")]
        rows += [(key, str(value)) for key, value in record["preprocessing"].items()]
        if weights:
            state = "verified" if weights["verified"] else "UNVERIFIED"
            rows.append(("weights", f"{weights['name']} ({state}, sha256 {weights['sha256']})"))
        elif record["weights_assumed"]:
            rows.append(("weights", f"assumed {record['weights_assumed']}"))
        else:
            rows.append(("weights", "not recorded"))
        rows.append(("features", "none (KID needs them)" if record["features"] is None
                     else f"{record['features']} rows"))
        if record["skipped"]:
            rows.append(("skipped", str(record["skipped"])))
        if record["parts"]:
            rows.append(("merged from", ", ".join(f"{p['file']} ({p['n']})"
                                                  for p in record["parts"])))
        rows.append(("trace(sigma)", f"{record['trace_sigma']:.6g}"))
        if record["tool"] == "iqa":
            rows.append(("written by", f"iqa {record['iqa']}" if record["iqa"] else
                         "not recorded"))
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            stream.write(f"{key:<{width}}  {value}\n")
