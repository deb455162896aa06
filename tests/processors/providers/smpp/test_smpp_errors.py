"""The one table of SMPP failures: every status's name and class, and what each class makes of a submit's answer."""
from __future__ import annotations

import pytest

from processors.dispatch import logic
from processors.dispatch.provider import ALIVE_REFUSALS
from processors.providers.smpp.errors import (
    LINK_FAILURES, STATUSES, ErrorClass, classify, status_code, status_name,
)


@pytest.mark.parametrize(("status", "name", "kind"), [
    (0x08, "ESME_RSYSERR", ErrorClass.RETRY),
    (0x64, "ESME_RX_T_APPN", ErrorClass.RETRY),
    (0x14, "ESME_RMSGQFUL", ErrorClass.THROTTLE),
    (0x58, "ESME_RTHROTTLED", ErrorClass.THROTTLE),
    (0x0B, "ESME_RINVDSTADR", ErrorClass.PERMANENT),
    (0x0A, "ESME_RINVSRCADR", ErrorClass.PERMANENT),
    (0x45, "ESME_RSUBMITFAIL", ErrorClass.PERMANENT),
    (0x62, "ESME_RINVEXPIRY", ErrorClass.PERMANENT),
    (0x0400, "SMPP_0x00000400", ErrorClass.PERMANENT),  # a vendor code the table does not know
])
def test_each_status_has_its_name_and_class(status: int, name: str, kind: ErrorClass) -> None:
    assert (status_name(status), classify(status)) == (name, kind)


def test_only_the_four_named_statuses_are_transient() -> None:
    transient = {name for name, kind in STATUSES.values() if kind is not ErrorClass.PERMANENT}
    assert transient == {"ESME_RSYSERR", "ESME_RMSGQFUL", "ESME_RTHROTTLED", "ESME_RX_T_APPN"}
    assert len({name for name, _kind in STATUSES.values()}) == len(STATUSES)  # names are unique
    assert status_code(0x0B) == "0x0000000B"


def test_throttling_proves_the_smsc_alive_and_lost_answers_are_never_resubmitted() -> None:
    throttles = {name for name, kind in STATUSES.values() if kind is ErrorClass.THROTTLE}
    assert throttles == {"ESME_RMSGQFUL", "ESME_RTHROTTLED"} and throttles <= ALIVE_REFUSALS  # the router's contract names them
    assert logic.UNKNOWN_OUTCOMES == {"timeout", "connection_lost"} and logic.UNKNOWN_OUTCOMES < LINK_FAILURES
