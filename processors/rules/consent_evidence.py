"""Consent changes recorded with their evidence, as callers give them (``POST /v1/consent``, ``courrier consent import``).

A ``ConsentRecord`` is one opt-in or opt-out as a caller states it; ``change`` turns it into the ``ConsentChange``
written to the compacted ``consent`` topic (key ``E164|group``, the state the consent stage reads) and to
``consent-history`` (key E.164, every change, what ``courrier consent export`` hands an auditor).

What proof each needs: an opt-in is marketing permission, so it must say what the person was shown (``text_shown``)
and one trace of them giving it (``ip_address``, ``inbound_message_id`` or ``evidence``: a form id, a signed paper's
reference). An opt-out is never refused for want of proof (any reasonable means counts, FCC 2024): the time and
the source are enough.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from processors.rules.consent import consent_key
from processors.runtime.stage import Event, Output

# A clock a little ahead of ours is not a forgery; a change dated further ahead is.
CLOCK_SKEW = timedelta(minutes=5)
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
STATUSES = {"opted_in": "OPTED_IN", "opted_out": "OPTED_OUT"}


class ConsentRecord(BaseModel):
    """One opt-in or opt-out with its evidence, as a caller records it (unknown fields refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # default_region first: the number's validator reads it.
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = Field(
        None, description="ISO country code to read a national number in, e.g. FR.")
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="The person's number in E.164, or national with default_region; kept in E.164 form.")
    subscription_group: Name = Field(description="The subscription group the consent is for, e.g. promotions.")
    status: Literal["opted_in", "opted_out"] = Field(description="opted_in or opted_out.")
    source: Name = Field(description="How it was given or withdrawn: form, paper, call, keyword, import, api…")
    changed_at: AwareDatetime = Field(description="When the person gave or withdrew it, ISO 8601 with an offset; not in the future.")
    text_shown: Text | None = Field(None, description="The wording the person saw (required for an opt-in).")
    ip_address: str | None = Field(None, max_length=64, description="The IP address it was given from (web forms).")
    inbound_message_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="The provider's id of the inbound message it came from (a keyword).")
    evidence: Text | None = Field(None, description="Any other proof: a form id, a signed paper's reference, a call recording id.")

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str, info: ValidationInfo) -> str:
        return e164(value, info.data.get("default_region"))

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("not an IPv4 or IPv6 address") from None

    @model_validator(mode="after")
    def _opt_in_has_proof(self) -> "ConsentRecord":
        if self.status == "opted_in":
            if self.text_shown is None:
                raise ValueError("an opt-in needs text_shown: the wording the person agreed to")
            if not (self.ip_address or self.inbound_message_id or self.evidence):
                raise ValueError("an opt-in needs one trace of the person giving it: ip_address, inbound_message_id or evidence")
        return self


@lru_cache(maxsize=65_536)  # an import checks each row twice (check, then write): parsing is most of a row's cost
def e164(number: str, default_region: str | None) -> str:
    """``number`` in E.164 form; ``ValueError`` saying why (never repeating the number) when it is not a valid number of the
    numbering plan."""
    region = default_region.upper() if default_region else None
    if region is None and not number.lstrip().startswith("+"):
        raise ValueError("not a phone number in E.164 form (+ and the country code); a national number needs default_region")
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid number of the numbering plan")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def future(record: ConsentRecord, now: datetime) -> str | None:
    """Why ``record`` cannot be taken at ``now`` (dated in the future), or None."""
    if record.changed_at > now + CLOCK_SKEW:
        return f"changed_at {record.changed_at.isoformat()} is in the future"
    return None


def change(record: ConsentRecord, recorded_by: str | None) -> Event:
    """The ``ConsentChange`` of ``record`` (its number already in E.164 form), written by ``recorded_by``."""
    return {
        "e164": record.number, "subscription_group": record.subscription_group,
        "status": STATUSES[record.status], "basis": "MARKETING", "source": record.source, "evidence": record.evidence,
        "changed_at": record.changed_at, "text_shown": record.text_shown, "ip_address": record.ip_address,
        "inbound_message_id": record.inbound_message_id, "recorded_by": recorded_by, "needs_review": False,
    }


def outputs(value: Event) -> list[Output]:
    """Where a change is written: its state to ``consent`` (key ``E164|group``), the change to ``consent-history`` (E.164)."""
    return [Output("consent", consent_key(value["e164"], value["subscription_group"]), value),
            Output("consent-history", value["e164"], value)]


def problems(error: ValidationError) -> list[tuple[str | None, str]]:
    """A validation error as ``(field, message)`` pairs, never echoing the value given."""
    return [(".".join(str(part) for part in item["loc"]) or None, item["msg"].removeprefix("Value error, "))
            for item in error.errors(include_input=False)]
