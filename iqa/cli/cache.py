"""``iqa cache list`` and ``iqa cache clear``: see and clean the FID statistics cache.

The cache (:mod:`iqa.distribution.statscache`) lives in ``<iqa cache>/fid-stats/``
(``$IQA_CACHE_DIR``, else ``$XDG_CACHE_HOME/iqa``, else ``~/.cache/iqa``). Network
weights are not part of it: ``iqa weights`` manages those.
"""

from __future__ import annotations

import click


@click.group()
def cache() -> None:
    """See and clean the cache of FID statistics of image folders."""


@cache.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="table (for people) or json (one object).")
def list_command(fmt: str) -> None:
    """Each entry: the folder it was computed from, its images, resize mode, weights,
    size on disk and last use (most recent first)."""
    from iqa.distribution.statscache import list_entries, stats_cache_dir
    from iqa.output.values import dumps

    entries = list_entries()
    if fmt == "json":
        click.echo(dumps({"tool": "iqa", "command": "cache list",
                          "folder": str(stats_cache_dir()),
                          "entries": [e.to_json() for e in entries],
                          "total_bytes": sum(e.bytes for e in entries)}, indent=2))
        return
    if not entries:
        click.echo(f"no cached statistics in {stats_cache_dir()}")
        return
    for e in entries:
        row = e.to_json()
        used = (row["last_used"] or "").replace("T", " ").rstrip("Z")
        if e.error:
            what = f"{e.path.name}: {e.error}"
        else:
            features = ", features" if e.features else ""
            what = (f"{e.folder} ({e.images} images of {e.files} files, resize {row['resize']}, "
                    f"{row['device']}, weights {str(row['weights_sha256'])[:12]}{features})")
        click.echo(f"{used}  {_size(e.bytes):>9}  {what}")
    total = sum(e.bytes for e in entries)
    click.echo(f"{len(entries)} entries, {_size(total)} in {stats_cache_dir()}")


@cache.command("clear")
@click.option("--older-than", "older_than", type=float, default=None, metavar="DAYS",
              help="Remove only entries not used for DAYS days (default: remove all).")
def clear_command(older_than: float | None) -> None:
    """Remove cached statistics (they are recomputed when next needed)."""
    from iqa.distribution.statscache import clear_entries
    from iqa.errors import UsageError

    if older_than is not None and not older_than >= 0:
        raise UsageError(f"--older-than {older_than}: must be a number of days, 0 or more")
    removed, freed = clear_entries(older_than)
    click.echo(f"removed {removed} cached statistics ({_size(freed)})")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover
