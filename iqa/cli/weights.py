"""``iqa weights``: list, download and import the networks' weights files."""

from __future__ import annotations

import click

from iqa.cli._common import download_bar, say, warn


@click.group(epilog="Exit codes: 0 success, 2 missing, unverifiable or unusable weights.")
def weights() -> None:
    """Weights of the networks LPIPS and FID use: where they are, whether they verify.

    \b
    iqa weights list
    iqa weights download alexnet fid-inception
    iqa weights import alexnet ~/Downloads/alexnet-owt-7be5be79.pth
    iqa weights import alexnet converted.pth --unverified
    """


@weights.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
def list_(fmt: str) -> int:
    """Every known weights file: status (missing / verified / unverified / failed
    verification), size, path and what uses it. "verified" means the file's size and full
    SHA-256 are the official ones (the JSON shows both)."""
    from iqa.weights import KNOWN, status

    rows = []
    for name in KNOWN:
        s = status(name)
        rows.append({
            "name": name,
            "status": s.status,
            "size_bytes": s.size_bytes,
            "size_mib": round(s.size_bytes / 2**20, 1) if s.size_bytes else s.entry.size_mib,
            "path": str(s.path),
            "file": s.entry.filename,
            "url": s.entry.url,
            "official_size_bytes": s.entry.size,
            "sha256": s.entry.sha256,
            "sha256_prefix": s.entry.sha256_prefix,
            "used_by": s.entry.used_by,
        })
    if fmt == "json":
        from iqa.output import open_output
        from iqa.output.values import dumps

        with open_output(None) as stream:
            stream.write(dumps({"weights": rows}, indent=2) + "\n")
        return 0
    _print_table(rows)
    return 0


def _print_table(rows: list[dict]) -> None:
    """On a terminal long paths fold to its width; piped, each file is one line (a
    script can read it) and nothing wraps, as every table of the tool."""
    from rich.table import Table

    from iqa.output import open_output
    from iqa.output.table import make_console, text

    styles = {"verified": "green", "unverified": "yellow", "failed verification": "red"}
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in ("name", "status", "size", "path", "used by"):
        table.add_column(column, overflow="fold", justify="right" if column == "size" else "left")
    for r in rows:
        style = styles.get(r["status"], "")
        shown = f"[{style}]{r['status']}[/{style}]" if style else r["status"]
        table.add_row(text(r["name"]), shown,
                      "size unknown" if r["size_mib"] is None else f"{r['size_mib']:g} MiB",
                      text(r["path"]), text(r["used_by"]))
    with open_output(None, machine=False) as stream:
        make_console(stream).print(table)


@weights.command()
@click.argument("names", nargs=-1)
def download(names: tuple[str, ...]) -> int:
    """Download NAMES (default: all) into torch hub's checkpoint folder, verifying each.

    A file already there that verifies is kept; one that fails verification is replaced.
    """
    from iqa.errors import WeightsError
    from iqa.weights import KNOWN, offline
    from iqa.weights import download as fetch
    from iqa.weights.catalog import known

    if offline():
        raise WeightsError("downloads are off (IQA_OFFLINE is set); unset it to download, "
                           "or use `iqa weights import NAME FILE` with a file fetched elsewhere")
    for name in names or tuple(KNOWN):
        entry = known(name)
        with download_bar(entry.filename) as progress:
            result = fetch(name, progress=progress)
        verb = "already present" if result.source == "cache" else "downloaded"
        say(f"{name}: {verb}, sha256 verified: {result.path}")
    return 0


@weights.command("import")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--unverified", is_flag=True,
              help="Accept a file that is not the official one (converted or fine-tuned "
              "weights) if it loads safely and fits the architecture; runs that use it say so.")
def import_(name: str, file: str, unverified: bool) -> int:
    """Copy FILE, fetched elsewhere, into the cache as the weights NAME (for machines
    without internet). Its SHA-256 must be the official one unless --unverified."""
    from iqa.weights import import_file

    result = import_file(name, file, unverified=unverified)
    if result.verified:
        say(f"{name}: sha256 verified, imported to {result.path}")
    else:
        warn(f"{name}: imported UNVERIFIED weights (sha256 {result.sha256}) to {result.path}; "
             "every run that uses them will say so")
    return 0
