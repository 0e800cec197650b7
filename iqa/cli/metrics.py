"""``iqa metrics``: what is installed (name, kind, direction, definition, the options each
takes), and which metrics need an extra (``pip install "iqa[torch]"``) that is not
installed here; then the registered feature extractors (``iqa.extractors``) with their
dimension, input size, layer, preprocessing modes and weights."""

from __future__ import annotations

from typing import Any

import click

from iqa.registry import load_all


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
def metrics(fmt: str) -> int:
    """List installed metrics and feature extractors; a plugin that fails to load is
    named on stderr."""
    from iqa.extras import available
    from iqa.features.registry import load_all as load_extractors

    classes, errors = load_all()
    extractor_classes, extractor_errors = load_extractors()
    errors = errors + extractor_errors
    extractors = [_extractor(c.info) for c in extractor_classes]
    rows = [
        {
            "name": c.info.name,
            "kind": c.info.kind,
            "direction": "higher is better" if c.info.higher_is_better else "lower is better",
            "needs": c.info.needs,
            "definition": c.info.definition,
            "extra": getattr(c.info, "extra", None),
            "available": available(c.info.extra) if getattr(c.info, "extra", None) else True,
            "options": [_option(o) for o in getattr(c.info, "options", ())],
        }
        for c in classes
    ]
    if fmt == "json":
        from iqa.output.values import dumps

        click.echo(dumps({"metrics": rows, "extractors": extractors, "errors": errors},
                         indent=2))
    else:
        _print_table(rows)
        _print_extractors(extractors)
    for line in errors:
        click.echo(f"iqa: {line}", err=True)
    return 0


def _option(option: Any) -> dict[str, Any]:
    """One declared option (:class:`iqa.metrics.base.Option`) as JSON."""
    return {"name": option.name, "type": option.type.__name__, "default": option.default,
            "help": option.help,
            "choices": None if option.choices is None else list(option.choices)}


def _extractor(info: Any) -> dict[str, Any]:
    """One extractor (:class:`iqa.features.extractor.ExtractorInfo`) as JSON."""
    return {"name": info.name, "dim": info.dim, "input_size": info.input_size,
            "layer": info.layer, "network": info.network_id, "weights": list(info.weights),
            "extra": info.extra, "reference": info.reference,
            "preprocessing": [{"name": m.name, "definition": m.description,
                               "reproduces": m.reproduces} for m in info.preprocessing]}


def _print_extractors(rows: list[dict[str, Any]]) -> None:
    """The extractors, after the metrics: one line each, never wrapped."""
    import sys

    from rich.table import Table

    from iqa.output.table import make_console, text

    if not rows:
        return
    table = Table(title="feature extractors (iqa fid --features NAME)", title_justify="left",
                  show_edge=False, pad_edge=False, header_style="bold")
    columns = ("name", "dim", "input", "layer", "preprocessing", "weights")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        modes = ", ".join(m["name"] for m in row["preprocessing"])
        table.add_row(*(text(str(v)) for v in (
            row["name"], row["dim"], f"{row['input_size']}x{row['input_size']}", row["layer"],
            modes, ", ".join(row["weights"]))))
    console = make_console(sys.stdout)
    console.print()
    console.print(table)


def _print_table(rows: list[dict[str, Any]]) -> None:
    """On a terminal the definitions wrap between words; names, kinds and needs
    (``network:fid-inception``) are never split. Piped, nothing wraps."""
    import sys

    from rich.table import Table

    from iqa.output.table import make_console, text

    columns = ("name", "kind", "direction", "needs", "extra", "options", "definition")
    for row in rows:
        row["options"] = ", ".join(f"{o['name']}={o['default']}" for o in row["options"]) or "-"
        if row["extra"]:
            missing = "" if row["available"] else " (not installed)"
            row["extra"] = f"iqa[{row['extra']}]{missing}"
        else:
            row["extra"] = "-"
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        longest = max([len(column), *(len(str(r[column])) for r in rows)])
        if column == "definition":
            words = [len(w) for r in rows for w in str(r[column]).split()]
            table.add_column(column, min_width=max([len(column), *words]), overflow="fold")
        else:
            table.add_column(column, no_wrap=True, min_width=longest)
    for row in rows:
        table.add_row(*(text(str(row[k])) for k in columns))
    make_console(sys.stdout).print(table)
