"""``iqa metrics``: what is installed (name, kind, direction, definition)."""

from __future__ import annotations

import click

from iqa.registry import load_all


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
def metrics(fmt: str) -> int:
    """List installed metrics; a plugin that fails to load is named on stderr."""
    classes, errors = load_all()
    rows = [
        {
            "name": c.info.name,
            "kind": c.info.kind,
            "direction": "higher is better" if c.info.higher_is_better else "lower is better",
            "needs": c.info.needs,
            "definition": c.info.definition,
        }
        for c in classes
    ]
    if fmt == "json":
        from iqa.output.values import dumps

        click.echo(dumps({"metrics": rows, "errors": errors}, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_edge=False, pad_edge=False, header_style="bold")
        for column in ("name", "kind", "direction", "needs", "definition"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(row[k] for k in ("name", "kind", "direction", "needs", "definition")))
        Console(highlight=False).print(table)
    for line in errors:
        click.echo(f"iqa: {line}", err=True)
    return 0
