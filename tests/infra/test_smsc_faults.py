"""The local SMSC's fault injection, seen from an SMPP client (smpplib) on an SMSC of this module's own, on spare ports.

Refused submits (ESME_RSYSERR, ESME_RTHROTTLED) are never journaled; duplicated, reordered, late and missing receipts
arrive as asked; POST /drop cuts every session, and only the receipts no one answered come again after the rebind."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import smpplib.client
import smpplib.command
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from common.config import Settings
import infra
from infra.smsc_control import FAULTS, SmscControl
from tests.infra.test_infra_parts import free_port_block

pytestmark = pytest.mark.integration

SEED = 42
REORDER_DELAY_MS = 300


@pytest.fixture(scope="module")
def smsc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private SMSC (the shared one serves other tests), its seed and reorder delay given by the starter's env vars."""
    base = free_port_block(2)
    settings = Settings(state_dir=tmp_path_factory.mktemp("smsc-faults"), smpp_port=base, smsc_control_port=base + 1,
                        smsc_receipt_delay_ms=50)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COURRIER_SMSC_FAULT_SEED", str(SEED))
        env.setenv("COURRIER_SMSC_REORDER_DELAY_MS", str(REORDER_DELAY_MS))
        started = infra.ensure_running(settings, parts=["smsc"])  # fetches into the temp dir from ~/.m2: seconds
    assert started == ["smsc"]
    try:
        yield settings
    finally:
        infra.stop(settings, started)


@pytest.fixture
def control(smsc: Settings) -> SmscControl:
    control = SmscControl.from_settings(smsc)
    control.clear_faults()
    control.reset()
    return control


class Esme:
    """A transceiver that reads PDUs itself, so a test decides which deliver_sm it answers."""

    def __init__(self, settings: Settings) -> None:
        self.client = smpplib.client.Client("127.0.0.1", settings.smpp_port, timeout=5, allow_unknown_opt_params=True)
        self.client.connect()
        self.client.bind_transceiver(system_id=settings.smpp_system_id, password=settings.smpp_password)
        self.pending: list[smpplib.command.Command] = []  # deliver_sm read while waiting for a submit_sm_resp

    def submit(self, text: str, to: str = "33612345678") -> smpplib.command.Command:
        """Sends one submit_sm asking for a receipt and returns its submit_sm_resp."""
        sent = self.client.send_message(source_addr_ton=smpplib.consts.SMPP_TON_ALNUM, source_addr="Courrier",
                                        dest_addr_ton=smpplib.consts.SMPP_TON_INTL, destination_addr=to,
                                        short_message=text.encode(), registered_delivery=1)
        while True:
            pdu = self.read(5)
            assert pdu is not None, "no submit_sm_resp within 5 s"
            if pdu.command == "deliver_sm":
                self.pending.append(pdu)
            elif pdu.command == "submit_sm_resp" and pdu.sequence == sent.sequence:
                return pdu

    def read(self, within_s: float) -> smpplib.command.Command | None:
        self.client._socket.settimeout(within_s)
        try:
            return self.client.read_pdu()
        except socket.timeout:
            return None

    def receipts(self, within_s: float, answer: bool = True) -> list[bytes]:
        """Every deliver_sm body read within ``within_s`` (answered with status 0 unless told not to)."""
        bodies: list[bytes] = []
        deadline = time.monotonic() + within_s
        while True:
            pdu = self.pending.pop(0) if self.pending else self.read(max(0.01, deadline - time.monotonic()))
            if pdu is None:
                return bodies
            if pdu.command == "deliver_sm":
                bodies.append(pdu.short_message)
                if answer:
                    self.answer(pdu)
            if time.monotonic() >= deadline and not self.pending:
                return bodies

    def answer(self, pdu: smpplib.command.Command) -> None:
        response = smpplib.smpp.make_pdu("deliver_sm_resp", client=self.client)
        response.sequence = pdu.sequence
        self.client.send_pdu(response)

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # already cut by /drop
            pass


@pytest.fixture
def esme(smsc: Settings, control: SmscControl) -> Iterator[Esme]:
    client = Esme(smsc)
    yield client
    try:
        client.receipts(0.3)  # what is left is taken here, or the next test's session would get it (store and forward)
    except smpplib.exceptions.ConnectionError:
        pass
    client.close()


def _stat(body: bytes) -> str:
    return body.decode("latin-1").split("stat:")[1].split()[0]


def test_faults_start_from_the_env_and_round_trip(control: SmscControl) -> None:
    assert control.faults() == {**dict.fromkeys(FAULTS, 0.0), "seed": SEED, "reorder_delay_ms": REORDER_DELAY_MS}
    assert control.set_faults(syserr_rate=0.02, duplicate_report_rate=0.1)["duplicate_report_rate"] == 0.1
    control._call("POST", "/faults?throttle_rate=0.5&seed=9")  # query parameters work as well
    assert control.faults() == {**dict.fromkeys(FAULTS, 0.0), "syserr_rate": 0.02, "duplicate_report_rate": 0.1,
                                "throttle_rate": 0.5, "seed": 9, "reorder_delay_ms": REORDER_DELAY_MS}
    for bad, said in (({"silent_rate": 0.5, "reorder_rate": 1.5}, "between 0 and 1"), ({"lost_rate": 0.1}, "unknown fault")):
        with pytest.raises(ValueError, match=said):
            control.set_faults(**bad)
    assert control.faults()["silent_rate"] == 0.0  # a refused request changes nothing, not even its valid values
    control.set_faults(seed=SEED)


def test_syserr_and_throttle_refuse_without_journaling(smsc: Settings, control: SmscControl, esme: Esme) -> None:
    control.set_faults(syserr_rate=1)
    assert [esme.submit(f"refused {i}").status for i in range(4)] == [smpplib.consts.SMPP_ESME_RSYSERR] * 4
    control.set_faults(syserr_rate=0, throttle_rate=1)
    assert [esme.submit(f"throttled {i}").status for i in range(3)] == [smpplib.consts.SMPP_ESME_RTHROTTLED] * 3
    assert esme.receipts(0.3) == []
    stats = control.stats()
    assert control.submissions() == [] and stats["total"] == 0
    assert stats["refused"] == {"0x08": 4, "0x58": 3}


def test_same_seed_same_faults(control: SmscControl, esme: Esme) -> None:
    def statuses() -> list[int]:
        control.set_faults(syserr_rate=0.5, seed=7)
        return [esme.submit(f"draw {i}").status for i in range(12)]

    first = statuses()
    assert first == statuses() and 0 < first.count(0) < 12


def test_duplicate_reports_are_the_same_bytes_twice(control: SmscControl, esme: Esme) -> None:
    control.set_faults(duplicate_report_rate=1)
    ids = [esme.submit(f"twice {i}").message_id.decode() for i in range(3)]
    bodies = esme.receipts(1.0)
    for message_id in ids:
        mine = [b for b in bodies if b.startswith(f"id:{message_id} ".encode())]
        assert len(mine) == 2 and mine[0] == mine[1] and _stat(mine[0]) == "DELIVRD"
    assert len(bodies) == 6
    assert control.stats()["receipts_sent"] == 6 and control.stats()["duplicates_sent"] == 3


def test_silent_messages_are_accepted_and_never_reported(control: SmscControl, esme: Esme) -> None:
    control.set_faults(silent_rate=1)
    assert [esme.submit(f"silent {i}").status for i in range(3)] == [0, 0, 0]
    assert esme.receipts(0.6) == []
    stats = control.stats()
    assert len(control.submissions()) == 3 and stats["silenced"] == 3 and stats["receipts_sent"] == 0


def test_enroute_after_the_final_report_and_enroute_before_a_delayed_one(control: SmscControl, esme: Esme) -> None:
    control.set_faults(enroute_after_rate=1)
    esme.submit("late enroute")
    assert [_stat(b) for b in esme.receipts(0.6)] == ["DELIVRD", "ENROUTE"]
    control.set_faults(enroute_after_rate=0, reorder_rate=1)
    esme.submit("reordered")
    first = esme.receipts(0.2 + REORDER_DELAY_MS / 2000)
    assert [_stat(b) for b in first] == ["ENROUTE"]  # the final one is still held back
    assert [_stat(b) for b in esme.receipts(REORDER_DELAY_MS / 1000)] == ["DELIVRD"]
    assert control.stats()["enroute_sent"] == 2


def test_drop_cuts_every_session_and_only_unanswered_receipts_come_again(smsc: Settings, control: SmscControl,
                                                                          esme: Esme) -> None:
    answered_id = esme.submit("answered before the drop").message_id.decode()
    assert len(esme.receipts(0.4)) == 1
    unanswered_id = esme.submit("read, not answered").message_id.decode()
    (unanswered,) = esme.receipts(0.4, answer=False)
    assert unanswered.startswith(f"id:{unanswered_id} ".encode())

    assert control.drop() == 1
    with pytest.raises(smpplib.exceptions.ConnectionError):
        esme.read(2)
    assert control.stats()["sessions"] == 0

    rebound = Esme(smsc)
    try:
        again = rebound.receipts(2.5)  # retried every second to any bound session
    finally:
        rebound.close()
    assert again == [unanswered]
    assert not any(b.startswith(f"id:{answered_id} ".encode()) for b in again)
    assert control.stats()["receipt_retries"] >= 1


def test_drop_with_unbind_asks_each_session_to_unbind_first(control: SmscControl, esme: Esme) -> None:
    assert control.drop(unbind=True) == 1
    unbind = esme.read(2)
    assert unbind is not None and unbind.command == "unbind"
    response = smpplib.smpp.make_pdu("unbind_resp", client=esme.client)
    response.sequence = unbind.sequence
    esme.client.send_pdu(response)
    with pytest.raises(smpplib.exceptions.ConnectionError):
        esme.read(10)  # the SMSC closes once it has the answer; on a loaded machine that can take a few seconds
    deadline = time.monotonic() + 10  # the SMSC counts the session gone just after it closes the socket
    while control.stats()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert control.stats()["sessions"] == 0
