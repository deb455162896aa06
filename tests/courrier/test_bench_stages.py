"""``courrier bench stages``: the in-process chain of consent, channel, render, dispatch and receipt on synthetic requests
(no broker)."""
from __future__ import annotations

import subprocess
import sys

from courrier.bench_stages import bench_stages, requests


def test_the_requests_mix_lanes_and_give_each_marketing_number_its_opt_in() -> None:
    events, consents = requests(1_000, repeat=4)
    assert len(events) == 1_000
    assert len({e["recipient"] for e in events}) == 250
    marketing = {e["recipient"] for e in events if e["context"]["lane"] == "MARKETING"}
    assert marketing and {row["e164"] for row in consents.values()} == marketing
    assert {e["template_id"] for e in events} == {"otp", "order_shipped", "promo_spring"}


def test_every_request_goes_through_the_five_stages_and_each_has_a_figure() -> None:
    shown: list[str] = []
    # Two rounds on fresh stages: a second round on the first's stages would find every message id claimed already.
    figures = bench_stages(500, profile_stage="channel", rounds=2, show=shown.append)
    assert [f.stage for f in figures] == ["consent", "channel", "render", "dispatch", "receipt"]
    assert all(f.us_per_record > 0 and f.avro_floor_us > 0 for f in figures)
    assert [f.records for f in figures] == [500, 500, 500, 500, 1_000]  # receipt: each dispatched, then its report
    # Nothing refused, deferred or dead-lettered: each stage passes every request on, each on its lane's topic.
    def in_both_lanes(outputs: dict[str, int], hop: str) -> int:
        return outputs.get(hop, 0) + outputs.get(f"{hop}-transactional", 0)

    assert in_both_lanes(figures[0].outputs, "consent-checked") == 500
    assert in_both_lanes(figures[1].outputs, "channel-resolved") == 500 and "receipt" not in figures[1].outputs
    assert in_both_lanes(figures[2].outputs, "rendered") == 500
    assert "dead-letter" not in figures[2].outputs
    # Every message submitted to the no-op provider: dispatched, its report deadline parked, its ledger record.
    assert figures[3].outputs == {"dispatched": 500, "rcs-deadline": 500, "submissions": 500}
    # Each message SENT then DELIVERED, its state written after each.
    assert figures[4].outputs == {"receipt": 1_000, "message-state": 1_000}
    assert len(shown) == 1 and "function calls" in shown[0]


def test_a_profile_of_no_stage_is_refused_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "courrier.entry", "bench", "stages", "--profile", "scheduler"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "takes one of consent, channel, render, dispatch, receipt, not 'scheduler'" in lines[0]
