"""Small Python clients: ``CourrierClient`` publishes to Kafka directly, ``HttpClient`` calls the HTTP intake with an API key.

Either way one call sends one message, with no fallback code to write.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Mapping

import httpx
from confluent_kafka import Producer

from common.config import Settings
from common.errors import CourrierError
from common.kafka_clients import producer_config
from processors.consent.message_ids import RESERVED_KEY_PREFIX
from processors.runtime.placement import Placement
from processors.runtime.serde import AvroSerde
from topology.topics import lane_topic

API_KEY_ENV = "COURRIER_API_KEY"
API_URL_ENV = "COURRIER_API_URL"

LANES = ("TRANSACTIONAL", "MARKETING")
POLICIES = ("RCS_WITH_SMS_FALLBACK", "RCS_ONLY", "SMS", "MMS")


class CourrierClient:
    """Publishes ``send-requested`` and ``consent`` events with the Confluent wire format; call ``flush()`` before exiting."""

    def __init__(self, settings: Settings, source: str = "client") -> None:
        self._settings = settings
        self._source = source
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._producer = Producer(producer_config(settings))
        self._placement = Placement(settings, self._producer)

    def send(
        self,
        recipient: str,
        template_id: str,
        variables: Mapping[str, str] | None = None,
        *,
        channel_policy: str = "SMS",
        lane: str = "TRANSACTIONAL",
        subscription_group: str | None = None,
        campaign_id: str | None = None,
        variant: str | None = None,
        idempotency_key: str | None = None,
        send_at: datetime | None = None,
        validity_seconds: int | None = None,
        default_region: str | None = None,
        locale: str | None = None,
        time_zone: str | None = None,
        message_id: str | None = None,
        sms_fallback_after_s: int | None = None,
    ) -> str:
        """Queue one message and return its ``message_id``: a new UUID, or ``message_id`` when the caller gives one.

        ``ValueError`` for a lane or policy that does not exist, a fallback window on a policy without a
        fallback, a given ``message_id`` that is empty or blank (every later stage keys the message by it),
        or an ``idempotency_key`` in the ``courrier:`` namespace (reserved for the consent stage's claims).
        A given id must name this message only: another message under the same id ends in a
        ``rejected: duplicate_message_id`` receipt at the consent stage.
        """
        if sms_fallback_after_s is not None and channel_policy != "RCS_WITH_SMS_FALLBACK":
            raise ValueError("sms_fallback_after_s applies to channel_policy RCS_WITH_SMS_FALLBACK only")
        if lane not in LANES:
            raise ValueError(f"lane must be one of {', '.join(LANES)}, not {lane!r}")
        if channel_policy not in POLICIES:
            raise ValueError(f"channel_policy must be one of {', '.join(POLICIES)}, not {channel_policy!r}")
        if message_id is not None and not message_id.strip():
            raise ValueError("message_id must not be empty or blank: leave it out and the client assigns a UUID")
        if idempotency_key is not None and idempotency_key.startswith(RESERVED_KEY_PREFIX):
            raise ValueError(f"idempotency keys starting with {RESERVED_KEY_PREFIX!r} are reserved for Courrier's own claims")
        message_id = message_id if message_id is not None else str(uuid.uuid4())
        value = {
            "context": {
                "message_id": message_id, "idempotency_key": idempotency_key, "campaign_id": campaign_id, "variant": variant,
                "lane": lane, "subscription_group": subscription_group, "requested_at": datetime.now(timezone.utc), "source": self._source,
            },
            "recipient": recipient, "default_region": default_region, "template_id": template_id,
            "variables": dict(variables or {}), "channel_policy": channel_policy, "send_at": send_at,
            "validity_seconds": validity_seconds, "locale": locale, "time_zone": time_zone,
            "sms_fallback_after_s": sms_fallback_after_s,
        }
        topic = lane_topic("send-requested", value)  # an OTP takes its lane's topic, never behind a campaign
        self._produce(topic, recipient, self._serde.encode(topic, value))
        return message_id

    def record_consent(self, e164: str, subscription_group: str, opted_in: bool, *, lane: str = "MARKETING",
                       source: str = "api", evidence: str | None = None) -> None:
        """Publish a consent change: the latest state to the compacted ``consent`` topic, the change itself to ``consent-history``."""
        value = {
            "e164": e164, "subscription_group": subscription_group, "status": "OPTED_IN" if opted_in else "OPTED_OUT",
            "basis": lane, "source": source, "evidence": evidence, "changed_at": datetime.now(timezone.utc),
        }
        self._produce("consent", f"{e164}|{subscription_group}", self._serde.encode("consent", value))
        self._produce("consent-history", e164, self._serde.encode("consent-history", value))

    def report_conversion(self, message_id: str, event: str, *, recipient: str | None = None, value_micros: int | None = None,
                          currency: str | None = None, link_token: str | None = None) -> None:
        """Publish a conversion of a message (``otp_verified``, a purchase) to ``conversions``, keyed by message id. With
        ``recipient`` (E.164), the consent stage's fraud guard counts it for the recipient's range: OTPs that are never
        used lower that range's limit (``processors/rules/fraud.py``)."""
        value = {"message_id": message_id, "link_token": link_token, "event": event, "value_micros": value_micros,
                 "currency": currency, "occurred_at": datetime.now(timezone.utc), "recipient": recipient}
        self._produce("conversions", message_id, self._serde.encode("conversions", value))

    def _produce(self, logical_topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                physical = self._settings.topic(logical_topic)
                self._producer.produce(physical, key=key, value=value, partition=self._placement.partition(physical, key))
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for every queued record; returns how many are still undelivered."""
        return self._producer.flush(timeout_s)


class ApiError(CourrierError):
    """The HTTP API refused a call: its status, the ``errors`` it gave (code, message, field…) and, on 429, when to retry."""

    def __init__(self, status: int, errors: list[dict[str, Any]], retry_after_s: int | None = None) -> None:
        summary = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or "no error body"
        super().__init__(f"HTTP {status}: {summary}")
        self.status = status
        self.errors = errors
        self.retry_after_s = retry_after_s


class HttpClient:
    """Calls the HTTP intake with an API key: the ``api_key`` argument, else ``$COURRIER_API_KEY``; use it as a context manager.

    The key travels only in the ``Authorization: Bearer`` header; it is not kept anywhere else on the object.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            raise CourrierError(f"no API key: pass api_key= or set {API_KEY_ENV} (create one with `courrier keys create`)")
        self._http = httpx.Client(base_url=base_url or os.environ.get(API_URL_ENV, "http://127.0.0.1:8080"), timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {key}"}, transport=transport)

    def send(self, recipient: str, template_id: str, variables: Mapping[str, str] | None = None, *,
             idempotency_key: str | None = None, **fields: Any) -> str:
        """``POST /v1/messages``: the ``message_id`` (the first one's on an idempotent replay); ``ApiError`` when refused.

        ``fields`` are the other request fields as the API names them (``channel_policy="rcs_with_sms_fallback"``, ``lane``…).
        """
        body = {"template_id": template_id, "recipient": recipient, "variables": dict(variables or {}), **fields}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        answer = self._http.post("/v1/messages", json=body, headers=headers)
        return str(self._json(answer)["message_id"])

    def send_batch(self, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``POST /v1/messages/batch``: one result per message, in order (``status``, ``message_id`` or ``errors``)."""
        answer = self._http.post("/v1/messages/batch", json={"messages": [dict(m) for m in messages]})
        return list(self._json(answer)["results"])

    @staticmethod
    def _json(answer: httpx.Response) -> dict[str, Any]:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code >= 400:
            retry = answer.headers.get("Retry-After", "")
            raise ApiError(answer.status_code, list(body.get("errors", [])) if isinstance(body, dict) else [],
                           int(retry) if retry.isdigit() else None)
        return body

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
