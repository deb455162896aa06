"""The simulator's RBM: Google's token endpoint with a real google-auth service-account credential, the API's routes,
answers and errors as RBM documents them, its webhooks (and verification handshake) checked by the RBM provider's own
verifier and parser, and the real RBM adapter sending through it (a lost answer settled by resending, made once)."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from google.auth import exceptions as google_errors
from google.oauth2 import service_account

from processors.dispatch.provider import Submission
from processors.providers.rbm.adapter import RbmProvider, rbm_message_id
from processors.providers.rbm.settings import RbmSettings
from processors.providers.rbm.webhook import webhook_provider
from sim.credentials import service_account_info
from processors.providers.rbm.auth import HttpxRequest
from sim.oauth import GOOGLE_TOKEN_URI, RBM_SCOPE
from sim.simulator import SimOptions
from sim.testing import SimControl, WebhookCollector, private_sim, served_in_thread, webhook_collector

CAPABLE, NOT_CAPABLE = "+33612345671", "+33612345670"


def google_transport() -> HttpxRequest:
    """The RBM adapter's own google-auth transport (processors/providers/rbm/auth.py)."""
    return HttpxRequest(httpx.Client(), 10.0)


def access_token(sim: SimControl, scopes: tuple[str, ...] = (RBM_SCOPE,)) -> str:
    """A token the way the RBM adapter gets one: google-auth, the key file's token_uri, the RBM scope."""
    credentials = service_account.Credentials.from_service_account_info(sim.service_account(), scopes=list(scopes))
    credentials.refresh(google_transport())
    assert credentials.token and credentials.expiry is not None
    return str(credentials.token)


@pytest.fixture
def collector() -> Iterator[WebhookCollector]:
    with webhook_collector() as received:
        yield received


@pytest.fixture
def rbm_sim(collector: WebhookCollector) -> Iterator[SimControl]:
    options = SimOptions(webhook_url=None, rbm_webhook_url=f"{collector.origin}/webhooks/rbm")
    with private_sim(options, delivery_delay_ms=0, read_delay_ms=0) as control:
        yield control


@pytest.fixture
def api(rbm_sim: SimControl) -> Iterator[httpx.Client]:
    """A client of the RBM routes with a real access token."""
    with httpx.Client(base_url=rbm_sim.url, headers={"Authorization": f"Bearer {access_token(rbm_sim)}"}, timeout=10) as client:
        yield client


def send(api: httpx.Client, sim: SimControl, to: str = CAPABLE, message_id: str | None = None, timeout: float = 10.0,
         **body: Any) -> httpx.Response:
    return api.post(f"/v1/phones/{to}/agentMessages", params={"messageId": message_id or str(uuid.uuid4()), "agentId": sim.agent_id},
                    json={"contentMessage": {"text": "Votre code : 123456"}, **body}, timeout=timeout)


def google_error(answer: httpx.Response) -> tuple[int, int, str]:
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "status"}
    return answer.status_code, error["code"], error["status"]


def test_a_google_auth_service_account_gets_a_token(rbm_sim: SimControl) -> None:
    token = access_token(rbm_sim)
    assert token.startswith("ya29.") and rbm_sim.stats()["oauth"] == {"issued": 1, "refused": 0}


def test_the_token_endpoint_refuses_what_google_refuses(rbm_sim: SimControl) -> None:
    unknown = service_account_info(f"{rbm_sim.url}/token", client_email="stranger@elsewhere.iam.gserviceaccount.com")
    stranger = service_account.Credentials.from_service_account_info(unknown, scopes=[RBM_SCOPE])
    with pytest.raises(google_errors.RefreshError, match="account not found"):
        stranger.refresh(google_transport())
    account = rbm_sim.service_account()
    forged_key = service_account_info(f"{rbm_sim.url}/token")["private_key"]  # the right email, another key
    forged = service_account.Credentials.from_service_account_info({**account, "private_key": forged_key}, scopes=[RBM_SCOPE])
    with pytest.raises(google_errors.RefreshError, match="Invalid JWT Signature"):
        forged.refresh(google_transport())

    def assertion(**claims: Any) -> str:
        now = int(time.time())
        base = {"iss": account["client_email"], "aud": GOOGLE_TOKEN_URI, "scope": RBM_SCOPE, "iat": now, "exp": now + 3600}
        return jwt.encode({**base, **claims}, account["private_key"], algorithm="RS256", headers={"kid": account["private_key_id"]})

    def token(form: dict[str, str]) -> tuple[int, str]:
        answer = httpx.post(f"{rbm_sim.url}/token", data=form, timeout=10)
        return answer.status_code, answer.json()["error"]

    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token({"grant_type": "password", "assertion": assertion()}) == (400, "unsupported_grant_type")
    assert token({"grant_type": grant}) == (400, "invalid_request")
    assert token({"grant_type": grant, "assertion": assertion(exp=int(time.time()) + 7200)}) == (400, "invalid_grant")
    assert token({"grant_type": grant, "assertion": assertion(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)}) == (
        400, "invalid_grant")
    assert token({"grant_type": grant, "assertion": assertion(aud="https://elsewhere.example/token")}) == (400, "invalid_grant")
    assert token({"grant_type": grant, "assertion": assertion(scope="")}) == (400, "invalid_scope")
    assert rbm_sim.stats()["oauth"]["issued"] == 0


def test_every_route_wants_an_issued_token_with_the_scope_and_the_agent(rbm_sim: SimControl, api: httpx.Client) -> None:
    path, query = f"/v1/phones/{CAPABLE}/capabilities", {"requestId": str(uuid.uuid4()), "agentId": rbm_sim.agent_id}
    unauthenticated = httpx.get(f"{rbm_sim.url}{path}", params=query, headers={"Authorization": "Bearer ya29.made-up"})
    assert google_error(unauthenticated) == (401, 401, "UNAUTHENTICATED") and "www-authenticate" in unauthenticated.headers
    assert google_error(httpx.get(f"{rbm_sim.url}{path}", params=query)) == (401, 401, "UNAUTHENTICATED")
    assert google_error(api.get(path, params={**query, "agentId": "someone_else"})) == (403, 403, "PERMISSION_DENIED")
    assert google_error(api.get(path, params={"requestId": query["requestId"]})) == (400, 400, "INVALID_ARGUMENT")
    other_scope = access_token(rbm_sim, ("https://www.googleapis.com/auth/cloud-platform",))
    assert google_error(httpx.get(f"{rbm_sim.url}{path}", params=query, headers={"Authorization": f"Bearer {other_scope}"})) == (
        403, 403, "PERMISSION_DENIED")
    httpx.post(f"{rbm_sim.url}/_sim/oauth/revoke", timeout=10).raise_for_status()
    assert google_error(api.get(path, params=query)) == (401, 401, "UNAUTHENTICATED")  # a revoked token: fetch a new one


def test_capabilities_one_by_one_and_in_bulk(rbm_sim: SimControl, api: httpx.Client) -> None:
    def capability(number: str, request_id: str | None = None) -> httpx.Response:
        return api.get(f"/v1/phones/{number}/capabilities",
                       params={"requestId": request_id or str(uuid.uuid4()), "agentId": rbm_sim.agent_id})

    answer = capability(CAPABLE)
    assert answer.status_code == 200 and "REVOCATION" in answer.json()["features"] and set(answer.json()) == {"features"}
    assert google_error(capability(NOT_CAPABLE)) == (404, 404, "NOT_FOUND")
    assert google_error(capability(CAPABLE, "not-a-uuid")) == (400, 400, "INVALID_ARGUMENT")
    bulk = api.post("/v1/users:batchGet", json={"users": [CAPABLE, NOT_CAPABLE, "nonsense"], "agentId": rbm_sim.agent_id})
    assert bulk.json() == {"reachableUsers": [CAPABLE], "totalRandomSampleUserCount": 0, "reachableRandomSampleUserCount": 0}
    assert google_error(api.post("/v1/users:batchGet", json={"users": [CAPABLE]})) == (400, 400, "INVALID_ARGUMENT")
    many = [f"+336123{i:05d}" for i in range(600)]
    sampled = api.post("/v1/users:batchGet", json={"users": many, "agentId": rbm_sim.agent_id}).json()
    assert 0 < sampled["reachableRandomSampleUserCount"] <= sampled["totalRandomSampleUserCount"] < 600


def test_a_message_is_made_once_and_answered_as_rbm_does(rbm_sim: SimControl, api: httpx.Client) -> None:
    message_id = str(uuid.uuid4())
    answer = send(api, rbm_sim, message_id=message_id, ttl="600s")
    assert answer.status_code == 200
    assert answer.json()["name"] == f"phones/{CAPABLE}/agentMessages/{message_id}" and answer.json()["ttl"] == "600s"
    assert answer.json()["contentMessage"] == {"text": "Votre code : 123456"}
    assert datetime.fromisoformat(answer.json()["sendTime"]) <= datetime.now(timezone.utc)
    assert google_error(send(api, rbm_sim, message_id=message_id)) == (409, 409, "ALREADY_EXISTS")
    assert rbm_sim.stats()["submissions_by_provider"]["rbm"] == {message_id: 2}
    assert google_error(send(api, rbm_sim, to=NOT_CAPABLE)) == (404, 404, "NOT_FOUND")
    assert google_error(send(api, rbm_sim, message_id="m-1")) == (400, 400, "INVALID_ARGUMENT")  # a UUID, as RBM requires
    assert google_error(send(api, rbm_sim, ttl="ten minutes")) == (400, 400, "INVALID_ARGUMENT")
    assert rbm_sim.stats()["refused"] == {"not_capable": 1}


def test_webhooks_are_signed_pubsub_envelopes_the_rbm_receiver_accepts(rbm_sim: SimControl, api: httpx.Client,
                                                                          collector: WebhookCollector) -> None:
    assert rbm_sim.credentials is not None
    receiver = webhook_provider("rbm", rbm_sim.credentials.client_token, rbm_sim.agent_id)
    message_id = str(uuid.uuid4())
    assert send(api, rbm_sim, message_id=message_id).status_code == 200
    posts = collector.wait_for(2)
    assert [p.path for p in posts] == ["/webhooks/rbm"] * 2
    assert sorted(p.rbm_event["eventType"] for p in posts) == ["DELIVERED", "READ"]
    for post in posts:
        assert set(post.event) == {"message", "subscription"} and set(post.event["message"]) == {"data", "messageId", "publishTime"}
        event = post.rbm_event
        assert set(event) == {"senderPhoneNumber", "eventType", "eventId", "sendTime", "messageId", "agentId"}
        assert (event["senderPhoneNumber"], event["messageId"], event["agentId"]) == (CAPABLE, message_id, f"{rbm_sim.agent_id}@rbm.goog")
        assert receiver.verify(post.headers, post.body, time.time()) == post.headers["x-goog-signature"]
        parsed = receiver.parse(post.body)
        (record,) = parsed.outputs
        assert parsed.event_id == event["eventId"] and record.key == message_id and record.value["raw_status"] == event["eventType"]
    tampered = posts[0].body.replace(b'"publishTime"', b'"publishtime"')  # the envelope may change: only message.data is signed
    assert receiver.verify(posts[0].headers, tampered, time.time())


def test_an_expired_message_is_revoked_by_its_ttl_and_an_undelivered_one_says_nothing(rbm_sim: SimControl, api: httpx.Client,
                                                                                      collector: WebhookCollector) -> None:
    rbm_sim.configure(delivery_delay_ms=3_000)
    expiring = str(uuid.uuid4())
    assert send(api, rbm_sim, message_id=expiring, ttl="0.2s").status_code == 200
    (post,) = collector.wait_for(1)
    event = post.rbm_event
    assert (event["eventType"], event["messageId"], event["phoneNumber"]) == ("TTL_EXPIRATION_REVOKED", expiring, CAPABLE)
    assert set(event) == {"phoneNumber", "messageId", "agentId", "eventType", "eventId", "sendTime"}
    rbm_sim.configure(delivery_delay_ms=0, undelivered_rate=1)
    assert send(api, rbm_sim).status_code == 200
    # An RBM message that never reaches the handset just waits in RBM's queue: nothing was even scheduled for it.
    assert rbm_sim.stats()["webhooks"] | {"posted": 0} == {"posted": 0, "retried": 0, "failed": 0, "dropped": 0, "cancelled": 0,
                                                            "pending": 0}


def test_revoking_works_until_delivery_and_silences_the_message(rbm_sim: SimControl, api: httpx.Client,
                                                                collector: WebhookCollector) -> None:
    rbm_sim.configure(delivery_delay_ms=1_000)
    pending, delivered = str(uuid.uuid4()), str(uuid.uuid4())
    assert send(api, rbm_sim, message_id=pending).status_code == 200
    revoke = api.delete(f"/v1/phones/{CAPABLE}/agentMessages/{pending}", params={"agentId": rbm_sim.agent_id})
    assert (revoke.status_code, revoke.json()) == (200, {})
    rbm_sim.configure(delivery_delay_ms=0)
    assert send(api, rbm_sim, message_id=delivered).status_code == 200
    collector.wait_for(2)
    late = api.delete(f"/v1/phones/{CAPABLE}/agentMessages/{delivered}", params={"agentId": rbm_sim.agent_id})
    assert google_error(late) == (404, 404, "NOT_FOUND")
    unknown = api.delete(f"/v1/phones/{CAPABLE}/agentMessages/{uuid.uuid4()}", params={"agentId": rbm_sim.agent_id})
    assert google_error(unknown) == (404, 404, "NOT_FOUND")
    deadline = time.monotonic() + 5
    while rbm_sim.stats()["webhooks"]["cancelled"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rbm_sim.stats()["webhooks"]["cancelled"] == 2  # the revoked message's DELIVERED and READ
    assert {p.rbm_event["messageId"] for p in collector.received} == {delivered}


def test_queued_faults_meet_the_next_sends_in_order(rbm_sim: SimControl, api: httpx.Client) -> None:
    rbm_sim.configure(timeout_hold_ms=1_500)
    assert rbm_sim.fail_next("rbm", "unauthorized", "forbidden", "throttled", "server_error", "bad_request", "lost_answer") == [
        "unauthorized", "forbidden", "throttled", "server_error", "bad_request", "lost_answer"]
    assert [google_error(send(api, rbm_sim))[2] for _ in range(5)] == [
        "UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "FAILED_PRECONDITION"]
    message_id = str(uuid.uuid4())
    with pytest.raises(httpx.ReadTimeout):
        send(api, rbm_sim, message_id=message_id, timeout=0.5)
    assert google_error(send(api, rbm_sim, message_id=message_id)) == (409, 409, "ALREADY_EXISTS")  # made once: resending settles it
    assert rbm_sim.stats()["refused"] == {"unauthorized": 1, "forbidden": 1, "throttled": 1, "transient": 1, "permanent": 1}


def test_user_messages_replies_and_typing_reach_the_agent(rbm_sim: SimControl, collector: WebhookCollector) -> None:
    assert rbm_sim.credentials is not None
    receiver = webhook_provider("rbm", rbm_sim.credentials.client_token, rbm_sim.agent_id)
    text_id = rbm_sim.inbound(CAPABLE, None, "STOP", provider="rbm")
    rbm_sim.inbound(CAPABLE, None, "Oui", provider="rbm", postback_data="confirm")
    rbm_sim.inbound(CAPABLE, None, "", provider="rbm", typing=True)
    text, reply, typing = collector.wait_for(3)
    assert text.rbm_event["text"] == "STOP" and text.rbm_event["messageId"] == text_id
    assert reply.rbm_event["suggestionResponse"] == {"postbackData": "confirm", "text": "Oui", "type": "REPLY"}
    assert typing.rbm_event["eventType"] == "IS_TYPING"
    for post in (text, reply, typing):
        receiver.verify(post.headers, post.body, time.time())
    (inbound,) = receiver.parse(text.body).outputs
    assert (inbound.topic, inbound.key, inbound.value["text"], inbound.value["to_sender_id"]) == ("inbound", CAPABLE, "STOP", rbm_sim.agent_id)
    assert receiver.parse(typing.body).outputs == ()


def test_the_legacy_token_still_reaches_the_rbm_routes_without_an_agent() -> None:
    with private_sim() as sim:
        legacy = httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.token}"}, timeout=10)
        with legacy:
            assert legacy.get(f"/v1/phones/{CAPABLE}/capabilities").status_code == 200
            sent = legacy.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "m-legacy"},
                               json={"contentMessage": {"text": "Hi"}, "expireTime": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()})
            assert sent.status_code == 200 and sent.json()["name"] == f"phones/{CAPABLE}/agentMessages/m-legacy"


def test_the_webhook_verification_handshake_is_what_the_rbm_receiver_answers() -> None:
    with private_sim() as probe:
        assert probe.credentials is not None
        receiver = webhook_provider("rbm", probe.credentials.client_token, probe.agent_id)
    app = FastAPI()

    @app.post("/webhooks/rbm")
    async def rbm_webhook(request: Request) -> PlainTextResponse:
        body = await request.body()
        receiver.verify({k.lower(): v for k, v in request.headers.items()}, body, time.time())
        return PlainTextResponse(receiver.parse(body).reply or "")

    with served_in_thread(app, "rbm-receiver") as url, \
            private_sim(SimOptions(webhook_url=None, rbm_webhook_url=f"{url}/webhooks/rbm", credentials=probe.credentials)) as sim:
        assert httpx.post(f"{sim.url}/_sim/rbm/verify_webhook", timeout=10).json() == {"verified": True, "status": 200}
    with private_sim() as off:
        assert httpx.post(f"{off.url}/_sim/rbm/verify_webhook", timeout=10).status_code == 409


def rbm_adapter(sim: SimControl, folder: Path, **settings: Any) -> RbmProvider:
    """The real RBM adapter, configured as an operator would: the key file on disk, the agent, the API's URL."""
    key = folder / "service-account.json"
    key.write_text(json.dumps(sim.service_account()))
    assert sim.credentials is not None
    return RbmProvider(RbmSettings.of(agent_id=sim.agent_id, service_account_file=key, api_url=sim.url,
                                      client_token=sim.credentials.client_token, **settings))


def rcs(message_id: str) -> Submission:
    return Submission(message_id=message_id, sender_id="courrier", sender_type="RCS_AGENT", destination=CAPABLE,
                      text="Votre colis arrive demain", encoding="GSM7", channel="RCS",
                      expires_at=datetime.now(timezone.utc) + timedelta(minutes=10))


def test_the_rbm_adapter_sends_through_the_simulator_and_its_reports_come_back(rbm_sim: SimControl, collector: WebhookCollector,
                                                                              tmp_path: Path) -> None:
    provider = rbm_adapter(rbm_sim, tmp_path)
    provider.open()
    try:
        (result,) = provider.submit_many([rcs("m-rcs-1")], timeout_s=10)
        assert provider.revoke("m-rcs-1", CAPABLE) in (False, True)  # delivered at once here: RBM answers 404, nothing to withdraw
    finally:
        provider.close()
    assert result.accepted and result.provider_message_ids == [rbm_message_id("m-rcs-1")]
    assert rbm_sim.credentials is not None
    receiver = webhook_provider("rbm", rbm_sim.credentials.client_token, rbm_sim.agent_id)
    reports = [receiver.parse(post.body).outputs[0] for post in collector.wait_for(2)]
    assert {(r.key, r.value["raw_status"]) for r in reports} == {(rbm_message_id("m-rcs-1"), "DELIVERED"),
                                                               (rbm_message_id("m-rcs-1"), "READ")}


def test_an_rbm_answer_lost_is_settled_by_resending_the_same_message_id(rbm_sim: SimControl, tmp_path: Path) -> None:
    rbm_sim.configure(timeout_hold_ms=2_000)
    rbm_sim.fail_next("rbm", "lost_answer")
    provider = rbm_adapter(rbm_sim, tmp_path, request_timeout_s=0.5)
    provider.open()
    try:
        (result,) = provider.submit_many([rcs("m-rcs-2")], timeout_s=10)
        if not result.accepted:
            settled = provider.reconcile("m-rcs-2")
            assert settled is not None
            result = settled
    finally:
        provider.close()
    assert result.accepted and result.provider_message_ids == [rbm_message_id("m-rcs-2")]
    assert rbm_sim.stats()["messages"] == 1  # asked twice, made once (409 ALREADY_EXISTS the second time)
