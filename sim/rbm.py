"""Google's RCS Business Messaging API as the simulator plays it, and what RBM posts to the agent's webhook.

Reference: developers.google.com/business-communications/rcs-business-messaging/reference/rest/v1 (phones.agentMessages
create/delete, phones.getCapabilities, users.batchGet, UserEvent, ServerEvent, UserMessage) and guides/integrate/webhooks.

Every route wants ``Authorization: Bearer <an access token from POST /token with the rcsbusinessmessaging scope>`` and
the agent (``agentId``, in the query or, for ``users:batchGet``, the body): 401 UNAUTHENTICATED without a valid token,
403 PERMISSION_DENIED for another agent or a token without the scope, 400 INVALID_ARGUMENT without ``agentId``. The
legacy bearer token (``SimOptions.token``) passes too, without ``agentId`` or UUID checks, for Courrier's generic HTTP
provider; its messages report in the legacy shape (``sim.legacy``).

- ``GET /v1/phones/{E.164}/capabilities?requestId=<UUID>&agentId=`` → ``{"features": [...]}``; 404 NOT_FOUND when the
  number is not RCS-capable.
- ``POST /v1/users:batchGet`` ``{"users": [...], "agentId"}`` → ``{"reachableUsers", "totalRandomSampleUserCount",
  "reachableRandomSampleUserCount"}`` (the sample counts are 0 under 500 numbers, as documented).
- ``POST /v1/phones/{E.164}/agentMessages?messageId=<UUID>&agentId=`` an AgentMessage → the AgentMessage with its
  ``name`` and ``sendTime``; 409 ALREADY_EXISTS for a ``messageId`` already used, 404 NOT_FOUND for a number that is
  not RCS-capable.
- ``DELETE /v1/phones/{E.164}/agentMessages/{messageId}?agentId=`` → 200 ``{}`` while undelivered (nothing more is
  posted for it); 404 NOT_FOUND once delivered (or expired, or unknown).

Events go to ``Faults.rbm_webhook_url`` as a Pub/Sub push envelope signed ``X-Goog-Signature``
(``processors.providers.rbm.signature``): DELIVERED and READ user events, TTL_EXPIRATION_REVOKED server events for a
message whose ``expireTime``/``ttl`` passed undelivered. A message drawn UNDELIVERED posts nothing: RBM has no such
event, the message just waits in its queue. User messages (text, suggestion replies) and IS_TYPING come from ``/_sim/inbound``.
"""
from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from processors.providers.rbm.signature import signed_request
from sim.events import Planned
from sim.legacy import LegacyAggregator
from sim.oauth import RBM_SCOPE
from sim.reply import Reply, google_error
from sim.simulator import Post, Refusal, Simulator
from sim.store import SimMessage

PROVIDER = "rbm"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TTL = re.compile(r"^(\d{1,9}(?:\.\d{1,9})?)s$")  # protobuf Duration in JSON: seconds with up to 9 decimals
MAX_BATCH_USERS = 10_000
SAMPLE_FROM = 500  # users.batchGet samples reach only from 500 numbers up
MAX_REF_LENGTH = 128
MAX_TEXT = 3072
CONTENT_KINDS = ("text", "richCard", "contentInfo", "uploadedRbmFile")
FEATURES = ["REVOCATION", "RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_CREATE_CALENDAR_EVENT", "ACTION_DIAL",
            "ACTION_OPEN_URL", "ACTION_SHARE_LOCATION", "ACTION_VIEW_LOCATION"]
AGENT_DOMAIN = "@rbm.goog"  # events name the agent as RBM's platform does: its id in the rbm.goog domain
NOT_FOUND = "Requested entity was not found."
UNAUTHENTICATED = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
                   "authentication credential.")
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}


@dataclass(frozen=True)
class Caller:
    """Who calls: the agent of a valid access token, or the legacy token (``agent_id`` None)."""

    agent_id: str | None

    @property
    def legacy(self) -> bool:
        return self.agent_id is None


class RbmApi:
    """RBM's routes and events over the shared simulator state; ``legacy`` shapes the legacy route's events."""

    def __init__(self, sim: Simulator, legacy: LegacyAggregator) -> None:
        self.sim = sim
        self.legacy = legacy

    def caller(self, authorization: str, agent_id: str | None) -> Caller | Reply:
        """The caller behind an ``Authorization`` header and ``agentId``, or the error to answer."""
        if hmac.compare_digest(authorization.encode(), f"Bearer {self.sim.options.token}".encode()):
            return Caller(None)
        grant = self.sim.oauth.grant(authorization)
        if grant is None:
            return google_error(401, "UNAUTHENTICATED", UNAUTHENTICATED, WWW_AUTHENTICATE)
        if RBM_SCOPE not in grant.scopes:
            return google_error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        if not agent_id:
            return google_error(400, "INVALID_ARGUMENT", "agentId is required")
        if agent_id != self.sim.options.rbm_agent_id:
            return google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        return Caller(agent_id)

    def capability(self, e164: str, request_id: str | None, caller: Caller) -> Reply:
        if self.sim.down(capability=True):
            return _down(capability=True)
        if not E164.match(e164):
            return google_error(400, "INVALID_ARGUMENT", f"{e164!r} is not an E.164 number")
        if not caller.legacy and not UUID.match(request_id or ""):
            return google_error(400, "INVALID_ARGUMENT", "requestId is required and must be a UUID")
        self.sim.capability_checks += 1
        if not self.sim.faults.rcs_capable.capable(e164):
            return google_error(404, "NOT_FOUND", NOT_FOUND)
        return Reply(200, {"features": list(FEATURES)})

    def batch_get(self, body: Any, caller: Caller) -> Reply:
        if self.sim.down(capability=True):
            return _down(capability=True)
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return google_error(400, "INVALID_ARGUMENT", "body must be {\"users\": [\"+E164\", …], \"agentId\": …}")
        if len(users) > MAX_BATCH_USERS:
            return google_error(400, "INVALID_ARGUMENT", f"at most {MAX_BATCH_USERS} users per call, got {len(users)}")
        self.sim.capability_checks += len(users)
        capable = self.sim.faults.rcs_capable.capable
        reachable = [u for u in dict.fromkeys(users) if E164.match(u) and capable(u)]
        if caller.legacy:
            return Reply(200, {"reachableUsers": reachable})
        # A random sample of about 75% of the numbers, from 500 up; every simulated number reachable is reachable anywhere.
        sample = [u for u in users if self.sim.rng.random() < 0.75] if len(users) >= SAMPLE_FROM else []
        return Reply(200, {"reachableUsers": reachable, "totalRandomSampleUserCount": len(sample),
                           "reachableRandomSampleUserCount": sum(1 for u in sample if E164.match(u) and capable(u))})

    def agent_message(self, e164: str, message_id: str | None, body: Any, caller: Caller) -> Reply:
        if self.sim.down():
            return _down()
        if not E164.match(e164):
            return google_error(400, "INVALID_ARGUMENT", f"{e164!r} is not an E.164 number")
        if not message_id or len(message_id) > MAX_REF_LENGTH or not (caller.legacy or UUID.match(message_id)):
            need = f"1 to {MAX_REF_LENGTH} characters" if caller.legacy else "a UUID"
            return google_error(400, "INVALID_ARGUMENT", f"messageId is required ({need})")
        problem = content_problem(body)
        now = datetime.now(timezone.utc)
        expires_at = expiry(body, now) if problem is None else None
        if problem or isinstance(expires_at, str):
            return google_error(400, "INVALID_ARGUMENT", problem or str(expires_at))
        draw = self.sim.draw(PROVIDER)
        if draw.refusal is not None:
            return refusal_reply(draw.refusal)
        if not self.sim.faults.rcs_capable.capable(e164):
            self.sim.refused["not_capable"] += 1
            return google_error(404, "NOT_FOUND", NOT_FOUND)
        content = body["contentMessage"]
        message, created = self.sim.store.submit(PROVIDER, message_id, "rcs", e164, None, 1, now, expires_at=expires_at,
                                                 text=content.get("text") or "", agent_id=caller.agent_id)
        if not created:
            return google_error(409, "ALREADY_EXISTS", "Requested entity already exists")
        self.sim.accept(message, now, self.render)
        answer = {**body, "name": f"phones/{e164}/agentMessages/{message_id}", "sendTime": _rfc3339(now)}
        return self.sim.answer(Reply(200, answer), draw)

    def revoke(self, e164: str, message_id: str) -> Reply:
        """Revoke a message not delivered yet: 200 ``{}``, and none of its events is posted any more; 404 once it was
        delivered (or expired, its TTL having revoked it already), or for a message this number never got."""
        if self.sim.down():
            return _down()
        message = self.sim.store.find(PROVIDER, message_id)
        if message is None or message.to != e164:
            return google_error(404, "NOT_FOUND", NOT_FOUND)
        if message.status(datetime.now(timezone.utc)) in ("delivered", "expired"):
            return google_error(404, "NOT_FOUND", NOT_FOUND)
        message.revoked = True
        return Reply(200, {})

    def render(self, message: SimMessage, planned: Planned, now: datetime) -> Post | None:
        """A step as RBM posts it: DELIVERED/READ user events, an EXPIRED message's TTL_EXPIRATION_REVOKED server
        event; nothing else (no SENT, no UNDELIVERED in RBM). A legacy-route message reports in the legacy shape."""
        if message.agent_id is None:
            return self.legacy.render(message, planned, now)
        step, url = planned.step, self.sim.faults.rbm_webhook_url
        if url is None or step.status not in ("DELIVERED", "READ", "EXPIRED"):
            return None
        stamp, agent = _rfc3339(step.occurred_at), message.agent_id + AGENT_DOMAIN
        if step.status == "EXPIRED":
            event = {"phoneNumber": message.to, "messageId": message.id, "agentId": agent, "eventType": "TTL_EXPIRATION_REVOKED",
                     "eventId": step.event_id, "sendTime": stamp}
        else:
            event = {"senderPhoneNumber": message.to, "eventType": step.status, "eventId": step.event_id, "sendTime": stamp,
                     "messageId": message.id, "agentId": agent}
        # A duplicate is a Pub/Sub redelivery: same event, same Pub/Sub message id.
        pubsub_id = str(uuid.UUID(step.event_id).int % 10**16)
        headers, body = signed_request(event, pubsub_id, now + timedelta(seconds=planned.delay_s), self.sim.credentials.client_token)
        return Post(url, body, headers, guard=lambda: not message.revoked)

    def inbound(self, sender: str, text: str, postback_data: str | None, typing: bool) -> Reply:
        """A user's message (``text``, or a suggestion reply when ``postback_data`` is given) or IS_TYPING event from
        ``sender`` to the agent, posted now; 202 with its id (409 when ``rbm_webhook_url`` is off)."""
        url = self.sim.faults.rbm_webhook_url
        if url is None:
            return google_error(409, "FAILED_PRECONDITION", "RBM webhooks are off (rbm_webhook_url is null)")
        now, agent = datetime.now(timezone.utc), self.sim.options.rbm_agent_id + AGENT_DOMAIN
        event_id = str(uuid.UUID(int=self.sim.rng.getrandbits(128), version=4))
        event: dict[str, Any]
        if typing:
            event = {"senderPhoneNumber": sender, "eventType": "IS_TYPING", "eventId": event_id, "sendTime": _rfc3339(now),
                     "agentId": agent}
        else:
            event = {"senderPhoneNumber": sender, "messageId": event_id, "sendTime": _rfc3339(now), "agentId": agent}
            if postback_data is None:
                event["text"] = text
            else:
                event["suggestionResponse"] = {"postbackData": postback_data, "text": text, "type": "REPLY"}
        headers, body = signed_request(event, str(uuid.UUID(event_id).int % 10**16), now, self.sim.credentials.client_token)
        self.sim.post(Post(url, body, headers))
        return Reply(202, {"event_id": event_id})


def refusal_reply(refusal: Refusal) -> Reply:
    """A refused request in Google's words."""
    if refusal is Refusal.THROTTLED:
        return google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded (simulated)", {"Retry-After": "1"})
    if refusal is Refusal.UNAUTHORIZED:
        return google_error(401, "UNAUTHENTICATED", UNAUTHENTICATED, WWW_AUTHENTICATE)
    status, code, message = {
        Refusal.PERMANENT: (400, "FAILED_PRECONDITION", "message refused (simulated permanent error)"),
        Refusal.TRANSIENT: (503, "UNAVAILABLE", "The service is currently unavailable (simulated)"),
        Refusal.FORBIDDEN: (403, "PERMISSION_DENIED", "The caller does not have permission (simulated)"),
    }[refusal]
    return google_error(status, code, message)


def content_problem(body: Any) -> str | None:
    """Why an AgentMessage is not ``{"contentMessage": {exactly one of text, richCard, contentInfo…}}``, or None."""
    content = body.get("contentMessage") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        return "body must be {\"contentMessage\": {…}}"
    kinds = [k for k in CONTENT_KINDS if k in content]
    if len(kinds) != 1:
        return f"contentMessage needs exactly one of {', '.join(CONTENT_KINDS)}"
    if "text" in content and (not isinstance(content["text"], str) or not 0 < len(content["text"]) <= MAX_TEXT):
        return f"contentMessage.text must be 1 to {MAX_TEXT} characters"
    card = content.get("richCard")
    if card is not None and (not isinstance(card, dict) or len(set(card) & {"standaloneCard", "carouselCard"}) != 1):
        return "richCard needs exactly one of standaloneCard, carouselCard"
    suggestions = content.get("suggestions", [])
    if not isinstance(suggestions, list) or len(suggestions) > 11:
        return "suggestions must be a list of at most 11"
    return None


def expiry(body: dict[str, Any], now: datetime) -> datetime | None | str:
    """An AgentMessage's expiration, as RBM takes it: ``expireTime`` (RFC 3339) or ``ttl`` (a duration such as
    ``"3.5s"``), at most one of them; None without either; a ``str`` saying why when it is malformed."""
    expire_time, ttl = body.get("expireTime"), body.get("ttl")
    if expire_time is not None and ttl is not None:
        return "expireTime and ttl are one of: give at most one"
    if expire_time is not None:
        try:
            moment = datetime.fromisoformat(str(expire_time).replace("Z", "+00:00"))
        except ValueError:
            return f"expireTime {expire_time!r} is not an RFC 3339 timestamp"
        return moment if moment.tzinfo is not None else f"expireTime {expire_time!r} has no offset"
    if ttl is not None:
        match = TTL.match(str(ttl))
        if match is None:
            return f"ttl {ttl!r} is not a duration in seconds such as \"3.5s\""
        return now + timedelta(seconds=float(match.group(1)))
    return None


def _down(capability: bool = False) -> Reply:
    what = "the capability API" if capability else "the provider"
    return google_error(503, "UNAVAILABLE", f"{what} is down (simulated)")


def _rfc3339(moment: datetime) -> str:
    """Google's timestamps: UTC, ``Z``, microseconds."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
