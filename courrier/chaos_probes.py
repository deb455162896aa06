"""What ``courrier bench chaos`` uses to act on the providers and to watch from outside: the SMSC's and the simulator's
control routes (faults in, journals out), recipients texting STOP, and when each opt-out became readable."""
from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
import uuid
from typing import Any

import httpx
from confluent_kafka import Consumer

from common.config import Settings
from common.kafka_clients import assign_at_end, consumer_config
from processors.runtime.serde import AvroSerde
from sim.faults import Faults


class Providers:
    """The SMSC's and the simulator's control routes: faults in, journals out."""

    def __init__(self, settings: Settings) -> None:
        self._smsc = f"http://127.0.0.1:{settings.smsc_control_port}"
        self._sim = settings.sim_address
        self._set: tuple[dict[str, float], dict[str, Any]] = ({}, {})

    def configure(self, smsc_faults: dict[str, float], sim_faults: dict[str, Any]) -> None:
        """Set these faults (an empty set leaves that provider as it is); ``reset_faults`` undoes exactly these."""
        if smsc_faults:
            httpx.post(f"{self._smsc}/faults", json=smsc_faults, timeout=10).raise_for_status()
        if sim_faults:
            httpx.post(f"{self._sim}/_sim/config", json=sim_faults, timeout=10).raise_for_status()
        self._set = (dict(smsc_faults), dict(sim_faults))

    def reset_faults(self) -> None:
        smsc_faults, sim_faults = self._set
        if smsc_faults:
            httpx.post(f"{self._smsc}/faults", json={name: 0.0 for name in smsc_faults}, timeout=10).raise_for_status()
        if sim_faults:
            defaults = {name: value for name, value in Faults().model_dump().items() if name in sim_faults}
            httpx.post(f"{self._sim}/_sim/config", json=defaults, timeout=10).raise_for_status()

    def drop_binds(self) -> None:
        httpx.post(f"{self._smsc}/drop", timeout=10).raise_for_status()

    def text_in(self, number: str, sender: str, text: str) -> bool:
        """A recipient texts ``text`` to ``sender``; False when no bound dispatch took it now (killed a moment ago)."""
        try:
            answer = httpx.post(f"{self._smsc}/mo", params={"from": number, "to": sender, "text": text}, timeout=30)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200


    def smsc_journal(self, since_ms: int) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self._smsc}/submissions", timeout=60) as answer:
            entries = [json.loads(line) for line in answer.read().decode().splitlines()]
        return [e for e in entries if e["at"] >= since_ms]

    def sim_submissions(self) -> dict[str, int]:
        return dict(httpx.get(f"{self._sim}/_sim/stats", timeout=60).json()["submissions"])


class Stops:
    """Recipients texting STOP, from a thread of its own (the SMSC answers once dispatch has committed the message),
    each retried until a bound dispatch takes it."""

    def __init__(self, providers: Providers, sender: str) -> None:
        self._providers = providers
        self._sender = sender
        self._queue: "queue.Queue[str | None]" = queue.Queue()
        self.texted = 0
        self._thread = threading.Thread(target=self._run, name="chaos-stops", daemon=True)
        self._thread.start()

    def text(self, number: str) -> None:
        self._queue.put(number)

    def _run(self) -> None:
        while (number := self._queue.get()) is not None:
            for _attempt in range(120):
                if self._providers.text_in(number, self._sender, "STOP"):
                    self.texted += 1
                    break
                time.sleep(0.5)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=120)


class OptOutWatcher:
    """When each watched number's opt-out became readable (``read_committed``) on ``consent``: the moment from which
    dispatch's last check may be held to it, rather than when the keyword was texted."""

    def __init__(self, settings: Settings, numbers: set[str]) -> None:
        self._numbers = numbers
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer = Consumer(consumer_config(settings, f"courrier-chaos-{uuid.uuid4()}"))
        assign_at_end(self._consumer, [settings.topic("consent")])
        self.readable_at: dict[str, float] = {}

    def poll(self) -> None:
        for message in self._consumer.consume(1000, 0):
            if message.error() or message.value() is None:
                continue
            change = self._serde.decode("consent", message.value())
            if change["e164"] in self._numbers and change["status"] == "OPTED_OUT":
                self.readable_at.setdefault(change["e164"], time.time())

    def close(self) -> None:
        self._consumer.close()
