"""SMPP's conformance harness (the kit is ../conformance): the adapter against an SMSC of its own (CourrierSmsc on spare
ports, so its journal counts only these submits and nothing here touches the shared SMSC), through a ``SmscProxy``
that plays the kit's faults on the next bind or submit_sm.

How each fault looks over SMPP: ``lost_answer`` — the SMSC takes the submit_sm, its submit_sm_resp is lost with the
connection (the adapter answers transient ``connection_lost``; SMPP has no lookup, so the ledger never sends it again);
``throttled`` — ESME_RTHROTTLED (the adapter sends the part again after a pause, within the call); ``server_error``
— ESME_RSYSERR (transient); ``bad_request`` — ESME_RINVDSTADR (permanent); ``unauthorized``/``forbidden`` — the
bind is cut and the next bind refused with ESME_RINVPASWD/ESME_RINVSYSID (the adapter logs it, counts it and answers
``provider_auth_failed`` until ``reconnect()``). Reports come over the bind: ``webhook()`` is None.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from common.config import Settings
import infra
from infra.parts import SMSC
from infra.process import listening
from infra.smsc_control import SmscControl
from processors.dispatch.provider import Provider, Submission
from processors.providers.smpp.adapter import SmppProvider
from processors.providers.smpp.fake import LOST, SmscProxy
from processors.receipt.statuses import SMPP_STATUS
from processors.web.webhook_contract import WebhookProvider

SUBMIT_FAULTS: Mapping[str, int | str] = {"lost_answer": LOST, "throttled": 0x58, "server_error": 0x08, "bad_request": 0x0B}
BIND_FAULTS: Mapping[str, int] = {"unauthorized": 0x0E, "forbidden": 0x0F}  # ESME_RINVPASWD, ESME_RINVSYSID
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@contextmanager
def private_smsc(settings: Settings) -> Iterator[Settings]:
    """CourrierSmsc on two spare ports (SMPP, control), receipts after 50 ms; the settings that reach it. Killed after."""
    infra.fetch(settings, ["smsc"])  # the compiled class the shared SMSC also runs; nothing is started or changed there
    private = settings.model_copy(update={"smpp_host": "127.0.0.1", "smpp_port": free_port(), "smsc_control_port": free_port(),
                                          "smsc_receipt_delay_ms": 50})
    launch = SMSC.launch(private)
    process = subprocess.Popen(launch.argv, cwd=launch.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **launch.env}, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (listening(private.smpp_port) and listening(private.smsc_control_port)):
            assert process.poll() is None and time.monotonic() < deadline, "the private SMSC did not start"
            time.sleep(0.1)
        yield private
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


class SmppHarness:
    """A private SMSC behind a fault-playing proxy, and adapters bound to it through the proxy."""

    name = "smpp"
    channel = "SMS"
    statuses: Mapping[str, str] = {word: status for word, (status, _reason) in SMPP_STATUS.items()}

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._proxy: SmscProxy | None = None

    @contextmanager
    def running(self) -> Iterator[None]:
        with private_smsc(Settings()) as settings, SmscProxy("127.0.0.1", settings.smpp_port) as proxy:
            self._settings, self._proxy = settings, proxy
            try:
                yield
            finally:
                self._settings = self._proxy = None

    def provider(self) -> Provider:
        assert self._settings is not None and self._proxy is not None, "running() first"
        return SmppProvider("127.0.0.1", self._proxy.port, self._settings.smpp_system_id, self._settings.smpp_password,
                            on_report=_ack, on_inbound=_ack, name=self.name, bind_attempts=2, bind_timeout_s=5,
                            decimal_receipt_ids=self._settings.smpp_decimal_receipt_ids)

    def submission(self, message_id: str) -> Submission:
        return Submission(message_id, "COURRIER", "ALPHANUMERIC", "+33612345678", f"Code {message_id}", "GSM7")

    def times_sent(self, message_id: str) -> int:
        """submit_sm the SMSC accepted for ``message_id``, from its own journal."""
        assert self._settings is not None, "running() first"
        journal = SmscControl.from_settings(self._settings).submissions()
        return sum(1 for entry in journal if entry["text"] == f"Code {message_id}")

    def inject(self, fault: str) -> None:
        """The kit's fault for the next submit_sm; a credentials fault cuts the bind and waits for its refused rebind."""
        proxy = self._proxy
        assert proxy is not None, "running() first"
        if fault in SUBMIT_FAULTS:
            proxy.fail_next_submit(SUBMIT_FAULTS[fault])
            return
        refused = proxy.binds_refused
        proxy.refuse_next_bind(BIND_FAULTS[fault])
        proxy.drop()
        deadline = time.monotonic() + 10
        while proxy.binds_refused == refused and time.monotonic() < deadline:
            time.sleep(0.02)

    def webhook(self) -> WebhookProvider | None:
        return None

    def signed_report(self, message_id: str, provider_message_id: str, raw_status: str) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("SMPP reports come over the bind (deliver_sm), not by webhook")

    def forged(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        raise NotImplementedError("SMPP reports come over the bind (deliver_sm), not by webhook")


def _ack(item) -> None:  # noqa: ANN001 (a DeliveryReport or an InboundSms)
    """Acknowledge at once, as a consumer that made the item durable would, so the SMSC forgets it."""
    if item.ack is not None:
        item.ack()


HARNESS = SmppHarness
