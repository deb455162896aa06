"""The HTTP intake's wire format: what a caller may send and what it gets back (pydantic v2).

Enums are lower case on the wire (``rcs_with_sms_fallback``) and upper case in Avro; unknown fields
are refused so a misspelt option (``validity_seconds``) is an error rather than silently ignored.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from processors.web.errors import ErrorBody, Problem  # one error shape for every service (re-exported for the intake's modules)

MAX_VARIABLES = 50
MAX_VARIABLE_CHARS = 1_000
MAX_BATCH = 1_000
MAX_VALIDITY_S = 7 * 24 * 60 * 60
TEMPLATE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"

ChannelPolicy = Literal["rcs_with_sms_fallback", "rcs_only", "sms", "mms"]
Lane = Literal["transactional", "marketing"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
VariableValue = Annotated[str, StringConstraints(max_length=MAX_VARIABLE_CHARS)]


class MessageRequest(BaseModel):
    """One message to send: a template, a recipient, the template's variables and how to reach the recipient."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template_id: Annotated[str, StringConstraints(pattern=TEMPLATE_ID_PATTERN)] = Field(
        description="A template of the template store (`courrier templates list`).")
    template_version: int | None = Field(None, ge=1, le=2**31 - 1, description="The template version to send (a published one); "
                                         "the latest published version when omitted.")
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="Phone number in E.164 or, with default_region, national format.")
    variables: dict[Name, VariableValue] = Field(
        default_factory=dict, max_length=MAX_VARIABLES, description="Template variables; strings only.")
    channel_policy: ChannelPolicy = Field("sms", description="Channel wanted and its fallback mode.")
    subscription_group: Name | None = Field(None, description="Group whose consent governs the message; required for marketing.")
    lane: Lane = Field("transactional", description="transactional (OTP, alerts) or marketing (needs an opt-in).")
    campaign_id: Name | None = None
    variant: Name | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="The same key within the idempotency window returns the first message_id instead of sending again.")
    send_at: AwareDatetime | None = Field(None, description="Earliest time to send, ISO 8601 with an offset.")
    validity: int | None = Field(None, ge=1, le=MAX_VALIDITY_S, description="Seconds after the request past which it must not leave.")
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = Field(
        None, description="ISO country code to read a national number in, e.g. FR.")
    locale: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")] | None = Field(
        None, description="Recipient's locale for the template's language, e.g. fr-FR.")
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Recipient's IANA time zone (e.g. America/Chicago) for quiet hours; taken from the number when absent.")
    status_callback: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        None, description="URL every receipt of this message is POSTed to as JSON, signed with the API key's callback secret "
        "(Courrier-Signature: t=…,v1=…; `courrier callbacks verify`); default: the key's own status_callback. One that is "
        "not http(s) or reaches an address inside the network is refused (422 callback_url_refused).")
    sms_fallback_after_s: int | None = Field(
        None, ge=1, le=MAX_VALIDITY_S, description="rcs_with_sms_fallback only: seconds the RCS message may go without a "
        "delivery report before the SMS goes instead (default: the deployment's COURRIER_RCS_SMS_FALLBACK_AFTER_S).")

    @model_validator(mode="after")
    def _marketing_names_its_group(self) -> MessageRequest:
        if self.lane == "marketing" and not self.subscription_group:
            raise ValueError("a marketing message must name its subscription_group (the consent it relies on)")
        return self

    @model_validator(mode="after")
    def _fallback_window_needs_a_fallback(self) -> MessageRequest:
        if self.sms_fallback_after_s is not None and self.channel_policy != "rcs_with_sms_fallback":
            raise ValueError("sms_fallback_after_s applies to channel_policy rcs_with_sms_fallback only")
        return self


class BatchRequest(BaseModel):
    """Up to 1,000 messages; each item is validated on its own so one bad item does not refuse the others."""

    model_config = ConfigDict(extra="forbid")

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class MessageAccepted(BaseModel):
    """The answer to one message: its id (the first one's, when the idempotency key was seen before)."""

    message_id: str


class BatchItemResult(BaseModel):
    """The outcome of one batch item, at the item's index: an HTTP-like status and the message id or the problems."""

    index: int
    status: int
    message_id: str | None = None
    replayed: bool = False
    errors: list[Problem] | None = None


class BatchResponse(BaseModel):
    """One result per item, in request order."""

    results: list[BatchItemResult]
