"""The Grafana dashboard (deploy/grafana/courrier.json): every query parses as PromQL and reads only metrics, and
labels, the code exports; a row per stage, one for providers, one for business outcomes."""
from __future__ import annotations

import json
from typing import Any

import pytest

from exported_metrics import ROOT, exported, grouping_labels, read_metrics  # noqa: I001 (same folder)

DASHBOARD = ROOT / "deploy" / "grafana" / "courrier.json"
PROMETHEUS_LABELS = {"job", "instance"}  # added by the scrape, not by the code


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and templating query."""
    found = [(f"panel {panel['title']!r}", target["expr"]) for panel in dashboard()["panels"] for target in panel.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            inner = variable["query"]["query"].removeprefix("label_values(").removesuffix(")")
            found.append((f"variable {variable['name']!r}", inner.rsplit(",", 1)[0]))
    return found


@pytest.mark.parametrize(("where", "expr"), queries(), ids=lambda value: value if len(value) < 60 else value[:57] + "...")
def test_every_query_names_exported_metrics_and_their_labels(where: str, expr: str) -> None:
    metrics = exported()
    read = read_metrics(expr)
    assert read, f"{where} reads no metric"
    for name, matched in read.items():
        assert name in metrics, f"{where} reads {name}, which no code exports"
        assert matched <= metrics[name] | PROMETHEUS_LABELS, f"{where} matches {name} on {matched - metrics[name]}, not its labels"
    known = set().union(*(metrics[name] for name in read)) | PROMETHEUS_LABELS
    assert grouping_labels(expr) <= known, f"{where} groups by {grouping_labels(expr) - known}, labels of none of {sorted(read)}"


def test_a_row_per_stage_one_for_providers_and_one_for_business_outcomes() -> None:
    panels = dashboard()["panels"]
    rows = [panel for panel in panels if panel["type"] == "row"]
    assert {"Providers", "Business outcomes"} <= {row["title"] for row in rows}
    stage_row = next(row for row in rows if row.get("repeat") == "stage")  # Grafana draws it once per selected stage
    stage = next(v for v in dashboard()["templating"]["list"] if v["name"] == "stage")
    assert stage["includeAll"] and stage["multi"]
    start = panels.index(stage_row) + 1
    end = next(i for i, panel in enumerate(panels) if i >= start and panel["type"] == "row")
    for panel in panels[start:end]:
        assert panel["targets"] and all('stage="$stage"' in t["expr"] for t in panel["targets"]), panel["title"]


def test_panels_do_not_overlap_and_ids_are_unique() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not mine & cells, panel["title"]
        cells |= mine
