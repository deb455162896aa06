"""A small client for the local SMSC's control port (``infra/smsc/CourrierSmsc.java``): journal, counters and faults.

``SmscControl.from_settings(settings).set_faults(syserr_rate=0.02, duplicate_report_rate=0.1, seed=7)`` before a chaos
run; ``stats()`` after it counts what the SMSC itself accepted, refused and reported, apart from the pipeline's ledger."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from common.config import Settings

FAULTS = ("syserr_rate", "throttle_rate", "silent_rate", "duplicate_report_rate", "enroute_after_rate", "reorder_rate")


@dataclass(frozen=True)
class SmscControl:
    port: int
    host: str = "127.0.0.1"
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmscControl:
        return cls(settings.smsc_control_port)

    def faults(self) -> dict[str, Any]:
        """The fault probabilities in force, the seed they are drawn from, and ``reorder_delay_ms``."""
        return json.loads(self._call("GET", "/faults"))

    def set_faults(self, **values: float | int) -> dict[str, Any]:
        """Changes the faults named (the others stay); a ``seed`` restarts the draws. Returns the values now in force."""
        return json.loads(self._call("POST", "/faults", json.dumps(values).encode()))

    def clear_faults(self) -> dict[str, Any]:
        return self.set_faults(**dict.fromkeys(FAULTS, 0.0))

    def stats(self) -> dict[str, Any]:
        """``total`` accepted, ``sessions`` bound, ``refused`` per status ("0x08", "0x58"), receipts sent and their kinds."""
        return json.loads(self._call("GET", "/stats"))

    def submissions(self) -> list[dict[str, Any]]:
        """The journal of accepted submit_sm, oldest first (id, from, to, text, at in epoch ms)."""
        return [json.loads(line) for line in self._call("GET", "/submissions").splitlines() if line]

    def reset(self) -> None:
        """Clears the journal and the counters (the faults stay)."""
        self._call("POST", "/reset")

    def drop(self, unbind: bool = False) -> int:
        """Closes every bound session (``unbind``: sends an unbind first, in the background); returns how many."""
        return json.loads(self._call("POST", "/drop?mode=unbind" if unbind else "/drop"))["dropped"]

    def _call(self, method: str, path: str, body: bytes | None = None) -> str:
        request = urllib.request.Request(f"http://{self.host}:{self.port}{path}", data=body, method=method,
                                         headers={"Content-Type": "application/json"} if body else {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return answer.read().decode()
        except urllib.error.HTTPError as error:
            # The SMSC says what was wrong in its body ({"error": …}): keep it in the exception.
            raise ValueError(f"SMSC control {method} {path}: {error.code} {error.read().decode()}") from None
