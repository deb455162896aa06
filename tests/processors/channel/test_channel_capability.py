"""RCS capability against the simulator: answers, TTLs, bounded cache, bulk prefetch per batch, the API down, the
policies' outcomes when it is, the catalog's wiring and `courrier rcs check`."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.config import Settings
import processors.providers.rbm.cli as rcs_cli
from processors.catalog import BUILDERS
from processors.providers.rbm.capability import CapabilityClient, static_bearer
from processors.channel.logic import CapabilityUnknown, choose_channel, no_rcs_provider, rcs_recipients
from processors.channel.stage import ChannelStage
from processors.runtime.stage import RecordMeta
from sim.testing import SimControl, private_sim

CAPABLE, NOT_CAPABLE = "+33612345671", "+33612345670"
META = RecordMeta(topic="consent-checked", partition=0, offset=0, key="k", now=datetime(2026, 3, 2, 9, 1, tzinfo=timezone.utc))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(sim: SimControl, clock: Clock) -> Iterator[CapabilityClient]:
    made = CapabilityClient(sim.url, static_bearer(sim.token), ttl_s=100, negative_ttl_s=10, max_entries=3, down_for_s=5, retry_after_s=7,
                            clock=clock)
    yield made
    made.close()


def test_answers_are_cached_for_their_own_ttl(client: CapabilityClient, sim: SimControl, clock: Clock) -> None:
    assert client(CAPABLE) is True and client(NOT_CAPABLE) is False and client("+1") is False
    assert client(CAPABLE) is True and sim.stats()["capability_checks"] == 2  # "+1" is refused before it counts
    clock.now += 11  # past the negative TTL only
    assert client.cached(NOT_CAPABLE) is None and client.cached(CAPABLE) is True
    clock.now += 90
    assert client.cached(CAPABLE) is None


def test_the_cache_is_bounded_least_recently_used_first(client: CapabilityClient) -> None:
    for number in ("+33612345671", "+33612345672", "+33612345673"):
        client(number)
    client("+33612345671")  # used again: the oldest is now ...72
    client("+33612345674")
    assert len(client) == 3 and client.cached("+33612345672") is None and client.cached("+33612345671") is True


def test_prefetch_asks_once_for_what_is_not_cached(client: CapabilityClient, sim: SimControl) -> None:
    client(CAPABLE)
    client.prefetch([CAPABLE, NOT_CAPABLE, "+33612345672", NOT_CAPABLE])
    assert client.asked == 3 and sim.stats()["capability_checks"] == 3
    assert (client.cached(NOT_CAPABLE), client.cached("+33612345672")) == (False, True)


def test_an_api_outage_is_unknown_and_not_asked_again_for_a_while(client: CapabilityClient, sim: SimControl, clock: Clock) -> None:
    sim.configure(capability_down=True)
    with pytest.raises(CapabilityUnknown, match="HTTP 503") as caught:
        client(CAPABLE)
    assert caught.value.delay_s == 7
    client.prefetch(["+33612345672"])  # remembered outage: no call, no error
    with pytest.raises(CapabilityUnknown, match="not answering"):
        client("+33612345672")
    assert sim.stats()["refused"] == {"down": 1}
    sim.configure(capability_down=False)
    clock.now += 5
    assert client(CAPABLE) is True


def test_an_unreachable_api_is_unknown() -> None:
    with private_sim() as gone:
        url = gone.url
    unreachable = CapabilityClient(url, static_bearer("t"))
    with pytest.raises(CapabilityUnknown, match="ConnectError"):
        unreachable(CAPABLE)
    unreachable.prefetch([CAPABLE])


@pytest.mark.parametrize(("policy", "channel", "fallback"), [("RCS_WITH_SMS_FALLBACK", "SMS", "rcs_capability_unknown"),
                                                              ("SMS", "SMS", None), ("MMS", "MMS", None)])
def test_an_outage_falls_back_where_the_policy_allows(policy: str, channel: str, fallback: str | None) -> None:
    def down(_e164: str) -> bool:
        raise CapabilityUnknown("down")

    choice = choose_channel(policy, "US", "+12015550123", down)
    assert (choice.channel, choice.fallback_reason, choice.suppressed) == (channel, fallback, None)


def test_rcs_only_is_retried_during_an_outage_not_suppressed() -> None:
    def down(_e164: str) -> bool:
        raise CapabilityUnknown("down", delay_s=60)

    with pytest.raises(CapabilityUnknown):
        choose_channel("RCS_ONLY", "FR", CAPABLE, down)


def test_a_batch_prefetches_once_and_a_bad_record_fails_alone(client: CapabilityClient, sim: SimControl, checked_event) -> None:
    stage = ChannelStage(rcs_capable=client)
    events = [checked_event("FR", channel_policy="RCS_WITH_SMS_FALLBACK", recipient={**checked_event()["recipient"], "e164": e164})
              for e164 in (CAPABLE, NOT_CAPABLE)]
    broken = {"channel_policy": "RCS_ONLY"}
    results = stage.process_batch([(events[0], META), (broken, META), (events[1], META)])
    assert sim.stats()["capability_checks"] == 2 and client.asked == 2  # one batchGet for both numbers
    assert [r[0].value["channel"] for r in (results[0], results[2])] == ["RCS", "SMS"]
    assert results[2][0].value["fallback_reason"] == "rcs_not_capable" and isinstance(results[1], KeyError)
    assert rcs_recipients([events[0], events[0], broken, {"channel_policy": "SMS", "recipient": {"e164": "+1"}}]) == [CAPABLE]


def test_the_catalog_wires_the_lookup_only_when_an_rbm_url_is_set(sim: SimControl) -> None:
    assert BUILDERS["channel"](Settings(rbm_url=None))[0]._rcs_capable is no_rcs_provider
    stage, tables = BUILDERS["channel"](Settings(rbm_url=sim.url, mms_regions="us, ca,FR"))
    assert tables == [] and isinstance(stage._rcs_capable, CapabilityClient)
    assert stage._mms_regions == frozenset({"US", "CA", "FR"})
    stage.close()


def test_rcs_check_writes_number_capable_lines(sim: SimControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(f"# customers\n{CAPABLE}\n\n{NOT_CAPABLE}\n{CAPABLE}\n+33612345672\n")
    monkeypatch.setattr(rcs_cli, "get_settings", lambda: Settings(rbm_url=sim.url))
    out = tmp_path / "capable.csv"
    result = CliRunner().invoke(rcs_cli.app, [str(numbers), "--out", str(out), "--chunk", "2"])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == ["number,capable", f"{CAPABLE},true", f"{NOT_CAPABLE},false", f"{CAPABLE},true",
                                            "+33612345672,true"]
    assert "3 numbers checked, 2 RCS-capable" in result.output and not (tmp_path / "capable.csv.part").exists()
    printed = CliRunner().invoke(rcs_cli.app, [str(numbers)])
    assert printed.stdout.splitlines()[0] == "number,capable"


def test_rcs_check_errors_are_one_line(sim: SimControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from courrier.entry import main

    def error_of(*argv: str) -> str:
        with pytest.raises(SystemExit) as exited:
            main(["rcs", "check", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert exited.value.code != 0 and len(err) == 1
        return err[0]

    numbers = tmp_path / "numbers.txt"
    numbers.write_text(f"{CAPABLE}\n0612345678\nnope\n")
    monkeypatch.setattr(rcs_cli, "get_settings", lambda: Settings(rbm_url=sim.url))
    assert "line 2: '0612345678' is not an E.164 number like +33612345678 (and 1 more line)" in error_of(str(numbers))
    assert "cannot read" in error_of(str(tmp_path / "missing.txt"))
    numbers.write_text(f"{CAPABLE}\n")
    sim.configure(capability_down=True)
    out = tmp_path / "out.csv"
    assert error_of(str(numbers), "--out", str(out)) == "courrier: the RCS capability API did not answer (HTTP 503)"
    assert not out.exists()
    monkeypatch.setattr(rcs_cli, "get_settings", lambda: Settings(rbm_url=None))
    assert error_of(str(numbers)).startswith("courrier: no RBM API configured: set COURRIER_RBM_URL")
