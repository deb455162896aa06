"""The SMPP provider against Courrier's SMSC (jsmpp server sessions): the shared one for traffic, a private one to kill and restart."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from common.config import Settings
from common.errors import UnreachableError
import infra
from infra.parts import SMSC
from processors.providers.smpp import adapter as smpp
from processors.dispatch.provider import Submission
from processors.providers.smpp.adapter import SmppProvider
from tests.processors.dispatch.dispatch_broker import Received

pytestmark = pytest.mark.integration


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def answers(settings: Settings) -> bool:
    """Whether the peer accepts a bind. A bare TCP probe would not do: jsmpp 3.0.1 then stops accepting for 30 s."""
    try:
        open_provider(settings, Received(), bind_attempts=1, bind_timeout_s=40).close()
    except UnreachableError:
        return False
    return True


@pytest.fixture(scope="module")
def smsc_settings() -> Iterator[Settings]:
    """The configured SMPP peer; the local simulator is started when none answers (and stopped after)."""
    settings = Settings()
    started = [] if settings.smpp_host or answers(settings) else infra.ensure_running(settings, parts=("smsc",))
    yield settings
    if started:
        infra.stop(settings, started)


def open_provider(settings: Settings, received: Received, port: int | None = None, **options) -> SmppProvider:
    host, default_port = settings.smpp_address
    provider = SmppProvider(host, port or default_port, settings.smpp_system_id, settings.smpp_password,
                            on_report=received.report, on_inbound=received.take,
                            decimal_receipt_ids=settings.smpp_decimal_receipt_ids, **options)
    provider.open()
    return provider


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def provider(smsc_settings: Settings, received: Received) -> Iterator[SmppProvider]:
    opened = open_provider(smsc_settings, received, window=10)
    yield opened
    opened.close()


def sms(message_id: str, destination: str, text: str, sender_type: str = "LONG_CODE", sender_id: str = "+33757000101",
        encoding: str = "GSM7") -> Submission:
    return Submission(message_id, sender_id, sender_type, destination, text, encoding)


def ids_of(results) -> set[str]:
    return {i for r in results for i in r.provider_message_ids}


def test_fifty_messages_in_a_window_of_ten_are_accepted_and_reported(provider: SmppProvider, received: Received) -> None:
    results = provider.submit_many([sms(f"m{i}", f"+336100{i:05d}", f"Code {i}") for i in range(50)])
    assert [r.message_id for r in results] == [f"m{i}" for i in range(50)]
    assert all(r.accepted and len(r.provider_message_ids) == 1 for r in results)
    ids = ids_of(results)
    assert len(ids) == 50
    assert wait_until(lambda: received.reported(ids) == ids, timeout_s=30)
    assert {r.raw_status for r in received.reports if r.provider_message_id in ids} == {"DELIVRD"}


def test_a_400_character_gsm_text_goes_as_three_parts_with_three_reports(provider: SmppProvider, received: Received) -> None:
    text = ("Votre colis est en route. " * 16)[:400]
    [result] = provider.submit_many([sms("long", "+33610099999", text)])
    assert result.accepted and len(result.provider_message_ids) == 3
    ids = set(result.provider_message_ids)
    assert wait_until(lambda: received.reported(ids) == ids, timeout_s=30)


def test_a_ucs2_text_is_accepted_and_reported(provider: SmppProvider, received: Received) -> None:
    [result] = provider.submit_many([sms("ucs2", "+33610088888", "Привет 👋 ваш код 4711", encoding="UCS2")])
    assert result.accepted
    ids = set(result.provider_message_ids)
    assert wait_until(lambda: received.reported(ids) == ids, timeout_s=30)


def test_an_alphanumeric_sender_reaches_the_smsc_as_ton_5(provider: SmppProvider, received: Received,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    receipts = []  # jsmpp returns the submit's addresses, swapped, in the receipt's deliver_sm

    def spy(pdu, *args):
        receipts.append(pdu)
        return read(pdu, *args)

    read = smpp.read_deliver_sm
    monkeypatch.setattr(smpp, "read_deliver_sm", spy)
    [result] = provider.submit_many([sms("alpha", "+33610077777", "Bonjour", "ALPHANUMERIC", "COURRIER")])
    assert result.accepted
    assert wait_until(lambda: any(p.destination_addr == "COURRIER" for p in receipts), timeout_s=30)
    receipt = next(p for p in receipts if p.destination_addr == "COURRIER")
    assert (receipt.dest_addr_ton, receipt.dest_addr_npi) == (5, 0)
    assert (receipt.source_addr_ton, receipt.source_addr_npi, receipt.source_addr) == (1, 1, "33610077777")


def test_a_mobile_originated_message_reaches_on_inbound(provider: SmppProvider, received: Received, smsc_settings: Settings) -> None:
    query = urllib.parse.urlencode({"from": "+33610088888", "to": "COURRIER", "text": "ARRÊT svp"})
    assert wait_until(lambda: _inject_mo(smsc_settings, query), timeout_s=10), "the SMSC had no bound session to deliver to"
    assert wait_until(lambda: any(m.from_number == "+33610088888" for m in received.inbound), timeout_s=10)
    message = next(m for m in received.inbound if m.from_number == "+33610088888")
    assert (message.to_sender, message.text) == ("COURRIER", "ARRÊT svp")


def test_the_smsc_journals_each_accepted_submit_once(provider: SmppProvider, smsc_settings: Settings) -> None:
    marker = f"journal-{time.time_ns()}"
    assert all(r.accepted for r in provider.submit_many([sms(f"{marker}-{i}", "+33610099999", f"{marker} {i} é") for i in range(3)]))
    with urllib.request.urlopen(f"http://127.0.0.1:{smsc_settings.smsc_control_port}/submissions", timeout=5) as answer:
        texts = [json.loads(line)["text"] for line in answer.read().decode().splitlines()]
    assert sorted(t for t in texts if t.startswith(marker)) == [f"{marker} {i} é" for i in range(3)]


def _inject_mo(settings: Settings, query: str) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{settings.smsc_control_port}/mo?{query}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status == 200
    except urllib.error.HTTPError:
        return False


@pytest.fixture
def private_smsc(smsc_settings: Settings) -> Iterator[Callable[[], None]]:
    """An SMSC of this test's own on a free port (no control port); calling the fixture's value kills and restarts it.

    Nothing probes its port: the provider's bind retries wait for it (see ``answers``)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    infra.fetch(smsc_settings, ["smsc"])
    launch = SMSC.launch(smsc_settings.model_copy(update={"smpp_port": port, "smsc_control_port": 0}))
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(launch.argv, cwd=launch.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env={**os.environ, **launch.env}, start_new_session=True))

    def restart() -> None:
        os.killpg(processes[-1].pid, signal.SIGKILL)
        processes[-1].wait(timeout=10)
        start()

    start()
    restart.port = port  # type: ignore[attr-defined]
    yield restart
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_the_provider_binds_again_after_the_smsc_restarts(smsc_settings: Settings, private_smsc, received: Received) -> None:
    provider = open_provider(smsc_settings, received, port=private_smsc.port, window=10, bind_attempts=8)
    try:
        assert provider.submit_many([sms("before", "+33610066666", "before")])[0].accepted
        private_smsc()
        # Submits racing the drop may go out on the dead connection and come back transient (connection_lost):
        # that is the contract. What must hold is that the provider binds again by itself.
        probes = iter(range(1000))
        assert wait_until(lambda: provider.submit_many([sms(f"probe{next(probes)}", "+33610077777", "probe")], timeout_s=5)[0].accepted,
                          timeout_s=60), "the provider never bound again"
        results = provider.submit_many([sms(f"after{i}", f"+3361005555{i}", "after") for i in range(5)], timeout_s=30)
        assert all(r.accepted for r in results), results
        ids = ids_of(results)
        assert wait_until(lambda: received.reported(ids) == ids, timeout_s=30)
    finally:
        provider.close()
