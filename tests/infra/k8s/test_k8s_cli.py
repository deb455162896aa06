"""``courrier deploy render``: files in --out, or one stream on stdout; --config goes into the ConfigMap."""
from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from common.config import Settings
from courrier.cli import app
from infra.k8s.workloads import workloads


def test_render_writes_files_and_prints_a_stream(tmp_path: Path) -> None:
    config = tmp_path / "courrier.toml"
    config.write_text('smpp_window = 20\n')
    result = CliRunner().invoke(app, ["deploy", "render", "--out", str(tmp_path / "k8s"), "--config", str(config), "--image", "reg/courrier:1"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files[:3] == ["00-config.yaml", "10-topics.yaml", "11-topology.yaml"] and any(f.endswith("-dispatch-transactional.yaml") for f in files)
    docs = list(yaml.safe_load_all((tmp_path / "k8s" / "00-config.yaml").read_text()))
    assert docs[0]["data"]["courrier.toml"] == "smpp_window = 20\n"
    printed = CliRunner().invoke(app, ["deploy", "render"])
    assert printed.exit_code == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(printed.output)]
    assert kinds.count("Deployment") == len(workloads(Settings())) == 16 and "ScaledObject" in kinds  # 3 chain stages × 2 lanes + dispatch × 2 + 6


def test_a_missing_config_file_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "render", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0 and "nope.toml" in result.output
