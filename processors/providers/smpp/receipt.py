"""The SMPP delivery receipt text (SMPP 3.4 appendix B), parsed into its fields.

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

Peers differ in small ways, all accepted: ids longer than 10 characters, counts of 1 to 3 digits,
dates with seconds (YYMMDDhhmmss), ``Text:`` in any case, or no text field at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_RECEIPT = re.compile(
    r"id:(?P<id>\S{1,65})\s+sub:(?P<sub>\d{1,3})\s+dlvrd:(?P<dlvrd>\d{1,3})\s+"
    r"submit date:(?P<submit>\d{10}(?:\d{2})?)\s+done date:(?P<done>\d{10}(?:\d{2})?)\s+"
    r"stat:(?P<stat>[A-Za-z]{1,7})\s+err:(?P<err>[0-9A-Za-z]{1,3})"
    r"(?:\s+text:(?P<text>.*)|\s*)",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class SmppReceipt:
    """The fields of a delivery receipt; dates are naive because the format carries no time zone (the SMSC's own)."""

    id: str
    sub: int
    dlvrd: int
    submit_date: datetime
    done_date: datetime
    stat: str
    err: str
    text: str


def parse_smpp_receipt(text: str) -> SmppReceipt:
    """The receipt in ``text`` (a deliver_sm short_message); ``ValueError`` when it is not one."""
    match = _RECEIPT.fullmatch(text.strip())
    if match is None:
        # The text itself stays out of the message: a mobile-originated SMS is personal content.
        raise ValueError(f"not an SMPP delivery receipt ({len(text)} characters, expected 'id:… sub:… dlvrd:… "
                         "submit date:… done date:… stat:… err:… text:…')")
    return SmppReceipt(
        id=match["id"],
        sub=int(match["sub"]),
        dlvrd=int(match["dlvrd"]),
        submit_date=_date(match["submit"], "submit date"),
        done_date=_date(match["done"], "done date"),
        stat=match["stat"].upper(),
        err=match["err"],
        text=match["text"] or "",
    )


def _date(digits: str, field: str) -> datetime:
    try:
        return datetime.strptime(digits, "%y%m%d%H%M%S" if len(digits) == 12 else "%y%m%d%H%M")
    except ValueError:
        raise ValueError(f"{field} {digits!r} is not a YYMMDDhhmm[ss] date") from None
