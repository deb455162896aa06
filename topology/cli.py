"""``courrier topology``: apply the declared topics and schemas, check compatibility, list what is declared.

Failures (a broker or registry that does not answer or refuses) are ``CourrierError``s, which the root
``courrier`` command prints as one line.
"""
from __future__ import annotations

from collections import defaultdict

import typer
from rich.console import Console
from rich.table import Table

from common.config import get_settings
from topology.check import Incompatibility
from topology.topics import DAY_MS, TOPICS

app = typer.Typer(no_args_is_help=True, help="Create topics and register schemas; check schema compatibility.")
HOUR_MS = 60 * 60 * 1000


@app.command()
def apply() -> None:
    """Create every declared topic and register every value schema (BACKWARD_TRANSITIVE); safe to run again."""
    from topology.apply import apply as apply_topology

    report = apply_topology(get_settings(), progress=typer.echo)
    created = sum(1 for state in report.topics.values() if state == "created")
    typer.echo(f"{len(report.topics)} topics ({created} created, {len(report.changes)} changed), "
               f"{len(report.schema_ids)} schemas registered")


@app.command()
def check() -> None:
    """Exit 1, naming subject and field, when a schema in schemas/ cannot read what a registered version wrote."""
    from topology.check import check as check_topology, declared_subjects

    settings = get_settings()
    problems = check_topology(settings)
    for line in problem_lines(problems):
        typer.echo(line)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{len(declared_subjects(settings))} subjects compatible")


@app.command("list")
def list_topics() -> None:
    """Every declared topic: physical name, key, value schema, partitions, retention, cleanup policy, owner and readers."""
    settings = get_settings()
    table = Table()
    for column in ("name", "physical name", "key", "value schema", "partitions", "retention", "cleanup policy", "owner", "readers"):
        table.add_column(column)
    for t in TOPICS:
        table.add_row(t.name, settings.topic(t.name), t.key, t.value_schema or "(bytes of the original topic)",
                      str(t.partitions or settings.partitions), retention(t.retention_ms), t.cleanup_policy, t.owner, ", ".join(t.readers))
    Console().print(table)


def problem_lines(problems: list[Incompatibility]) -> list[str]:
    """One line per subject and problem, with the registered versions it applies to."""
    versions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in problems:
        versions[(p.subject, p.problem)].append(p.version)
    return [f"{name}: {problem} (against version{'s' if len(v) > 1 else ''} {', '.join(map(str, v))})"
            for (name, problem), v in versions.items()]


def retention(ms: int) -> str:
    """Retention as a person reads it: ``forever``, ``7 d``, ``6 h`` or milliseconds."""
    if ms < 0:
        return "forever"
    for unit, size in (("d", DAY_MS), ("h", HOUR_MS)):
        if ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"
