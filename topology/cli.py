"""``courrier topology``: apply the declared topics and schemas, check compatibility, list what is declared."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from courrier.config import get_settings
from topology.topics import TOPICS

app = typer.Typer(no_args_is_help=True, help="Create topics and register schemas; check schema compatibility.")


@app.command()
def apply() -> None:
    """Create every declared topic and register every value schema (BACKWARD_TRANSITIVE); safe to run again."""
    from topology.apply import apply as apply_topology

    console = Console()
    report = apply_topology(get_settings())
    created = sum(1 for state in report.topics.values() if state == "created")
    console.print(f"{len(report.topics)} topics ({created} created), {len(report.schema_ids)} schemas registered")


@app.command()
def check() -> None:
    """Fail, naming subject and field, when a schema in schemas/ cannot read what a registered version wrote."""
    from topology.check import check as check_topology

    problems, checked = check_topology(get_settings())
    for p in problems:
        typer.echo(f"{p.subject} (against version {p.version}): {p.problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{checked} subjects compatible")


@app.command("list")
def list_topics() -> None:
    """Every declared topic: key, value schema, partitions, retention, cleanup policy, owner and readers."""
    settings = get_settings()
    table = Table()
    for column in ("topic", "key", "value schema", "partitions", "retention", "cleanup", "written by", "read by"):
        table.add_column(column)
    for t in TOPICS:
        retention = "forever" if t.retention_ms < 0 else f"{t.retention_ms // 86_400_000} d"
        table.add_row(settings.topic(t.name), t.key, t.value_schema or "(original bytes)", str(t.partitions or settings.partitions),
                      retention, t.cleanup_policy, t.owner, ", ".join(t.readers))
    Console().print(table)
