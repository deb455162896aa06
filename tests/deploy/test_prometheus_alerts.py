"""The Prometheus alert rules (deploy/prometheus/alerts.yaml), checked without promtool: the rule file's structure,
each expression parsed as PromQL, every metric and label it reads exported by the code, and every label an annotation
prints kept by the expression's grouping."""
from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml

from exported_metrics import ROOT, exported, grouping_labels, read_metrics  # noqa: I001 (same folder)

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
RULE_KEYS = {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_the_rule_file_has_named_groups_of_uniquely_named_alerts() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert groups and all(set(group) == {"name", "rules"} and group["rules"] for group in groups)
    assert len({group["name"] for group in groups}) == len(groups)
    names = [rule["alert"] for rule in rules()]
    assert len(set(names)) == len(names)


def test_the_issue_s_four_alerts_are_there() -> None:
    read = {rule["alert"]: set(read_metrics(rule["expr"])) for rule in rules()}
    assert any("courrier_consumer_lag" in metrics for metrics in read.values())
    assert any("courrier_dead_lettered_total" in metrics for metrics in read.values())
    assert any("courrier_provider_circuit_open" in metrics for metrics in read.values())
    assert any({"courrier_terminal_latency_seconds_count", "courrier_submit_latency_seconds_count"} <= m for m in read.values())


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_rule_is_well_formed_and_reads_exported_metrics(rule: dict[str, Any]) -> None:
    assert set(rule) <= RULE_KEYS and {"alert", "expr"} <= set(rule)
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
    promql_parser.parse_duration(rule["for"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    metrics = exported()
    read = read_metrics(rule["expr"])
    for name, matched in read.items():
        assert name in metrics, f"{rule['alert']} reads {name}, which no code exports"
        assert matched <= metrics[name], f"{rule['alert']} matches {name} on {matched - metrics[name]}, not its labels"
    grouped = grouping_labels(rule["expr"])
    assert grouped <= set().union(*(metrics[name] for name in read))
    printed = {label for text in rule["annotations"].values() for label in re.findall(r"\$labels\.(\w+)", text)}
    assert printed <= grouped, f"{rule['alert']} prints {printed - grouped}, which its expression aggregates away"
