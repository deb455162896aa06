"""Every SMPP failure by class, in one table: what dispatch does when a submit_sm is refused or gets no answer.

Three classes of ``command_status`` (SMPP 3.4 §5.1.3, table 5-2):

- ``THROTTLE``: ESME_RMSGQFUL (0x14), ESME_RTHROTTLED (0x58). The SMSC is alive and asks us to slow down: the
  part is sent again in the same run after a pause, and the provider's window shrinks (``window.Pace``). Still
  throttled when the run ends, the message is retried later (transient).
- ``RETRY``: ESME_RSYSERR (0x08), ESME_RX_T_APPN (0x64). The SMSC refused this submit for a reason that may pass; it
  certainly did not take it, so the message goes to the retry topic and is submitted again later.
- ``PERMANENT``: everything else — invalid destination (ESME_RINVDSTADR 0x0B) or source (ESME_RINVSRCADR 0x0A),
  and every status this table does not name as transient, vendor codes included. The message ends ``failed``,
  its reason the status name (``ESME_RINVDSTADR``), its ``provider_status`` the code (``0x0000000B``).

Failures without a status (``LINK_FAILURES``) are transient too, but two of them leave the outcome unknown: a part
sent without its answer (``timeout``: no submit_sm_resp in time; ``connection_lost``: the link dropped or the SMSC
unbound with it outstanding) may have reached the SMSC, so the ledger keeps SUBMITTING and it is never submitted
again (``processors.dispatch.logic.UNKNOWN_OUTCOMES``). ``not_bound`` (no link to send on) and ``not_submitted``
(the run's deadline came before a window had room for it) were never sent.
"""
from __future__ import annotations

from enum import Enum

from processors.dispatch.provider import CONNECTION_LOST, TIMEOUT


class ErrorClass(Enum):
    THROTTLE = "throttle"
    RETRY = "retry"
    PERMANENT = "permanent"


# SMPP 3.4 table 5-2: command_status → (name, class). Unlisted codes are permanent, named ``SMPP_0x…``.
STATUSES: dict[int, tuple[str, ErrorClass]] = {
    0x01: ("ESME_RINVMSGLEN", ErrorClass.PERMANENT),
    0x02: ("ESME_RINVCMDLEN", ErrorClass.PERMANENT),
    0x03: ("ESME_RINVCMDID", ErrorClass.PERMANENT),
    0x04: ("ESME_RINVBNDSTS", ErrorClass.PERMANENT),
    0x05: ("ESME_RALYBND", ErrorClass.PERMANENT),
    0x06: ("ESME_RINVPRTFLG", ErrorClass.PERMANENT),
    0x07: ("ESME_RINVREGDLVFLG", ErrorClass.PERMANENT),
    0x08: ("ESME_RSYSERR", ErrorClass.RETRY),
    0x0A: ("ESME_RINVSRCADR", ErrorClass.PERMANENT),
    0x0B: ("ESME_RINVDSTADR", ErrorClass.PERMANENT),
    0x0C: ("ESME_RINVMSGID", ErrorClass.PERMANENT),
    0x0D: ("ESME_RBINDFAIL", ErrorClass.PERMANENT),
    0x0E: ("ESME_RINVPASWD", ErrorClass.PERMANENT),
    0x0F: ("ESME_RINVSYSID", ErrorClass.PERMANENT),
    0x11: ("ESME_RCANCELFAIL", ErrorClass.PERMANENT),
    0x13: ("ESME_RREPLACEFAIL", ErrorClass.PERMANENT),
    0x14: ("ESME_RMSGQFUL", ErrorClass.THROTTLE),
    0x15: ("ESME_RINVSERTYP", ErrorClass.PERMANENT),
    0x33: ("ESME_RINVNUMDESTS", ErrorClass.PERMANENT),
    0x34: ("ESME_RINVDLNAME", ErrorClass.PERMANENT),
    0x40: ("ESME_RINVDESTFLAG", ErrorClass.PERMANENT),
    0x42: ("ESME_RINVSUBREP", ErrorClass.PERMANENT),
    0x43: ("ESME_RINVESMCLASS", ErrorClass.PERMANENT),
    0x44: ("ESME_RCNTSUBDL", ErrorClass.PERMANENT),
    0x45: ("ESME_RSUBMITFAIL", ErrorClass.PERMANENT),
    0x48: ("ESME_RINVSRCTON", ErrorClass.PERMANENT),
    0x49: ("ESME_RINVSRCNPI", ErrorClass.PERMANENT),
    0x50: ("ESME_RINVDSTTON", ErrorClass.PERMANENT),
    0x51: ("ESME_RINVDSTNPI", ErrorClass.PERMANENT),
    0x53: ("ESME_RINVSYSTYP", ErrorClass.PERMANENT),
    0x54: ("ESME_RINVREPFLAG", ErrorClass.PERMANENT),
    0x55: ("ESME_RINVNUMMSGS", ErrorClass.PERMANENT),
    0x58: ("ESME_RTHROTTLED", ErrorClass.THROTTLE),
    0x61: ("ESME_RINVSCHED", ErrorClass.PERMANENT),
    0x62: ("ESME_RINVEXPIRY", ErrorClass.PERMANENT),
    0x63: ("ESME_RINVDFTMSGID", ErrorClass.PERMANENT),
    0x64: ("ESME_RX_T_APPN", ErrorClass.RETRY),
    0x65: ("ESME_RX_P_APPN", ErrorClass.PERMANENT),
    0x66: ("ESME_RX_R_APPN", ErrorClass.PERMANENT),
    0x67: ("ESME_RQUERYFAIL", ErrorClass.PERMANENT),
    0xC0: ("ESME_RINVOPTPARSTREAM", ErrorClass.PERMANENT),
    0xC1: ("ESME_ROPTPARNOTALLWD", ErrorClass.PERMANENT),
    0xC2: ("ESME_RINVPARLEN", ErrorClass.PERMANENT),
    0xC3: ("ESME_RMISSINGOPTPARAM", ErrorClass.PERMANENT),
    0xC4: ("ESME_RINVOPTPARAMVAL", ErrorClass.PERMANENT),
    0xFE: ("ESME_RDELIVERYFAILURE", ErrorClass.PERMANENT),
    0xFF: ("ESME_RUNKNOWNERR", ErrorClass.PERMANENT),
}
ESME_RINVCMDID = 0x03  # what a generic_nack answering our submit_sm means when it carries no status
ESME_RX_T_APPN = 0x64  # our deliver_sm_resp when a callback failed: the SMSC keeps the item and delivers it again
ESME_RX_P_APPN = 0x65  # our deliver_sm_resp to a deliver_sm we cannot read: the SMSC should not deliver it again

# Transient details without a status: the answer was lost (the SMSC may have the message), or nothing was sent
# (no bind to send on; or the run's deadline came first, every bind's window full or paused).
NOT_BOUND, NOT_SUBMITTED = "not_bound", "not_submitted"
LINK_FAILURES = frozenset({TIMEOUT, CONNECTION_LOST, NOT_BOUND, NOT_SUBMITTED})
# Never sent either: the SMSC refused our credentials at bind time (a setting to fix: the router counts it unhealthy),
# or an earlier message to the same destination failed transiently in this run (sending this one would overtake it).
PROVIDER_AUTH_FAILED, HELD_FOR_ORDER = "provider_auth_failed", "held_for_order"


def status_code(status: int) -> str:
    """The ``provider_status`` of a command_status: ``0x0000000B``."""
    return f"0x{status:08X}"


def status_name(status: int) -> str:
    """The SMPP name of a command_status (``ESME_RINVDSTADR``), or ``SMPP_0x00000400`` for one the table lacks."""
    known = STATUSES.get(status)
    return known[0] if known else f"SMPP_{status_code(status)}"


def classify(status: int) -> ErrorClass:
    """What a non-zero command_status answering a submit_sm calls for (see the module docstring)."""
    known = STATUSES.get(status)
    return known[1] if known else ErrorClass.PERMANENT
