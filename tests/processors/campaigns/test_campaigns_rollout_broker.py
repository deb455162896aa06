"""A progressive rollout through the real broker and the command: 30 %, then 60 %, then the rest; everyone once."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from common.config import Settings
from courrier.processes import settings_env
from processors.runtime.snapshot import read_row
from processors.campaigns.logic import message_id
from processors.campaigns.rollout import place
from tests.processors.campaigns.test_campaigns_broker import read_all, write_csv


def campaign(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", *args], capture_output=True, text=True, timeout=120,
                          env=settings_env(settings))


def test_a_rollout_reaches_everyone_once_in_three_steps(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    recipients = [f"+3361236{n:04d}" for n in range(200)]
    path = write_csv(tmp_path / "audience.csv", recipients)
    campaign_id = f"rollout-{uuid.uuid4().hex[:6]}"
    result = campaign(settings, "send", "--template", "promo_spring", "--audience", str(path), "--group", "promotions",
                      "--campaign-id", campaign_id, "--variant", "A=1:sms", "--variant", "B=1:sms", "--percent", "30", "--json")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)
    expected_first = sum(place(campaign_id, r) < 30 for r in recipients)
    assert (first["rows"], first["outside_sample"], first["delivered"]) == (expected_first, 200 - expected_first, expected_first)
    record = read_row(settings, "campaigns", campaign_id)
    assert record is not None and record["rollout_percent"] == 30.0

    assert campaign(settings, "extend", campaign_id, "--percent", "20").returncode == 2  # backwards: refused, nothing sent
    second = json.loads(campaign(settings, "extend", campaign_id, "--percent", "60", "--json").stdout)
    third = json.loads(campaign(settings, "extend", campaign_id, "--rest", "--json").stdout)
    assert first["rows"] + second["rows"] + third["rows"] == 200

    records = read_all(settings, "send-requested", 200)
    ids = [v["context"]["message_id"] for _, v in records]
    assert len(ids) == 200 and set(ids) == {message_id(campaign_id, r, i) for i, r in enumerate(recipients)}
    # The later steps kept the first step's settings: the same variants, group and policy.
    assert {v["context"]["variant"] for _, v in records} == {"A", "B"}
    assert {(v["context"]["subscription_group"], v["channel_policy"]) for _, v in records} == {("promotions", "SMS")}
    assert read_row(settings, "campaigns", campaign_id)["rollout_percent"] == 100.0  # type: ignore[index]

    done = campaign(settings, "extend", campaign_id, "--rest")
    assert done.returncode == 2 and "nobody left" in done.stderr


def test_extend_refuses_a_campaign_sent_whole(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings
    campaign_id = f"whole-{uuid.uuid4().hex[:6]}"
    path = write_csv(tmp_path / "audience.csv", ["+33612360001"])
    assert campaign(settings, "send", "--template", "promo_spring", "--audience", str(path), "--group", "promotions",
                    "--campaign-id", campaign_id, "--json").returncode == 0
    refused = campaign(settings, "extend", campaign_id, "--percent", "50")
    assert refused.returncode == 2 and "not sent as a progressive rollout" in refused.stderr
