"""The simulator's HTTP contract: auth, capability, sends, idempotency, lookups, stats, faults and its bounds."""
from __future__ import annotations

import time

import httpx
import pytest

from sim.simulator import SimOptions
from sim.testing import SimControl, private_sim

CAPABLE, NOT_CAPABLE = "+33612345671", "+33612345670"


def sms(ref: str, to: str = CAPABLE, text: str = "Hello", **extra: object) -> dict[str, object]:
    return {"channel": "sms", "from": "COURRIER", "to": to, "text": text, "client_ref": ref, **extra}


def rcs(api: httpx.Client, ref: str, to: str = CAPABLE, content: dict | None = None) -> httpx.Response:
    return api.post(f"/v1/phones/{to}/agentMessages", params={"messageId": ref}, json={"contentMessage": content or {"text": "Hi"}})


def test_provider_routes_need_the_token_in_each_api_shape(sim: SimControl) -> None:
    rbm = httpx.get(f"{sim.url}/v1/phones/{CAPABLE}/capabilities", headers={"Authorization": "Bearer wrong"})
    aggregator = httpx.post(f"{sim.url}/v1/messages", json=sms("m"))
    assert (rbm.status_code, rbm.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert (aggregator.status_code, aggregator.json()["error"]["code"]) == (401, "unauthorized")
    assert sim.stats()["total"] == 0


def test_capability_single_and_bulk(api: httpx.Client, sim: SimControl) -> None:
    capable = api.get(f"/v1/phones/{CAPABLE}/capabilities")
    assert capable.status_code == 200 and "RICHCARD_CAROUSEL" in capable.json()["features"]
    missing = api.get(f"/v1/phones/{NOT_CAPABLE}/capabilities")
    assert missing.status_code == 404 and missing.json()["error"] == {"code": 404, "message": "Requested entity was not found.",
                                                                       "status": "NOT_FOUND"}
    assert api.get("/v1/phones/0612/capabilities").json()["error"]["status"] == "INVALID_ARGUMENT"
    users = [f"+3361234567{d}" for d in range(10)]
    reachable = api.post("/v1/users:batchGet", json={"users": [*users, CAPABLE, "garbage"]}).json()["reachableUsers"]
    assert reachable == [u for u in users if u[-1] not in "05"]
    too_many = api.post("/v1/users:batchGet", json={"users": ["+33612345671"] * 10_001})
    assert too_many.status_code == 400
    sim.configure(rcs_capable={"default": False, "capable_suffixes": ["7"], "not_capable_suffixes": []})
    assert api.post("/v1/users:batchGet", json={"users": users}).json()["reachableUsers"] == ["+33612345677"]


def test_an_agent_message_is_sent_once_and_a_repeat_is_409(api: httpx.Client, sim: SimControl) -> None:
    card = {"richCard": {"standaloneCard": {"cardContent": {"title": "Order"}}}, "suggestions": [{"reply": {"text": "OK"}}]}
    first = rcs(api, "r-1", content=card)
    assert first.status_code == 200 and first.json()["name"] == f"phones/{CAPABLE}/agentMessages/r-1"
    again = rcs(api, "r-1")
    assert again.status_code == 409 and again.json()["error"]["status"] == "ALREADY_EXISTS"
    assert rcs(api, "r-2", to=NOT_CAPABLE).json()["error"]["status"] == "NOT_FOUND"
    assert rcs(api, "r-3", content={"text": "a", "richCard": {}}).status_code == 400
    assert api.post(f"/v1/phones/{CAPABLE}/agentMessages", json={"contentMessage": {"text": "no id"}}).status_code == 400
    stats = sim.stats()
    assert stats["submissions"] == {"r-1": 2} and stats["by_channel"] == {"rcs": 2} and stats["refused"] == {"not_capable": 1}
    assert api.get("/v1/messages", params={"client_ref": "r-1", "provider": "rbm"}).json()["channel"] == "rcs"


def test_an_aggregator_send_is_idempotent_by_client_ref_and_can_be_looked_up(api: httpx.Client, sim: SimControl) -> None:
    created = api.post("/v1/messages", json=sms("s-1", text="ж" * 71))
    assert created.status_code == 201
    body = created.json()
    assert (body["client_ref"], body["status"], body["segments"]) == ("s-1", "accepted", 2)  # UCS-2: 70 per single SMS
    repeated = api.post("/v1/messages", json=sms("s-1"))
    assert repeated.status_code == 200 and repeated.json()["id"] == body["id"]
    found = api.get("/v1/messages", params={"client_ref": "s-1"}).json()
    assert {k: found[k] for k in ("id", "client_ref", "channel", "to", "from", "segments")} == {
        "id": body["id"], "client_ref": "s-1", "channel": "sms", "to": CAPABLE, "from": "COURRIER", "segments": 2}
    assert found["status"] in ("accepted", "delivered") and found["submitted_at"].endswith("Z")
    assert api.get("/v1/messages", params={"client_ref": "nope"}).status_code == 404
    mms = api.post("/v1/messages", json={**sms("s-2", text=""), "channel": "mms", "media_urls": ["https://cdn.example/a.jpg"]})
    assert mms.status_code == 201 and mms.json()["segments"] == 1
    assert sim.stats()["submissions"] == {"s-1": 2, "s-2": 1} and sim.stats()["by_channel"] == {"sms": 2, "mms": 1}


def test_the_two_apis_keep_separate_references(api: httpx.Client, sim: SimControl) -> None:
    assert rcs(api, "same").status_code == 200
    assert api.post("/v1/messages", json=sms("same")).status_code == 201  # the SMS fallback of an RCS message is its own send
    assert sim.stats()["submissions_by_provider"] == {"rbm": {"same": 1}, "aggregator": {"same": 1}, "twilio": {}}


@pytest.mark.parametrize(("body", "code"), [
    (sms("b", to="0612345678"), "invalid_number"),
    (sms("b", media_urls=["https://cdn.example/a.jpg"]), "media_not_allowed"),
    (sms("b", text=""), "empty_message"),
    ({**sms("b"), "channel": "fax"}, "invalid_request"),
    ({**sms("b"), "extra": 1}, "invalid_request"),
    (sms(""), "invalid_request"),
    ([1, 2], "invalid_request"),
])
def test_bad_sends_are_400_with_a_code_and_not_counted(api: httpx.Client, sim: SimControl, body: object, code: str) -> None:
    answer = api.post("/v1/messages", json=body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, code)
    assert sim.stats()["total"] == 0


def test_not_json_is_400(api: httpx.Client) -> None:
    assert api.post("/v1/messages", content=b"{nope").json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(("fault", "status", "code"), [
    ("error_rate", 400, "carrier_rejected"), ("transient_error_rate", 503, "unavailable"), ("throttle_rate", 429, "rate_limited")])
def test_drawn_refusals_are_not_accepted(api: httpx.Client, sim: SimControl, fault: str, status: int, code: str) -> None:
    sim.configure(**{fault: 1.0})
    answer = api.post("/v1/messages", json=sms("f-1"))
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert answer.headers.get("retry-after") == ("1" if status == 429 else None)
    assert rcs(api, "f-2").status_code == status
    sim.configure(**{fault: 0.0})
    assert api.post("/v1/messages", json=sms("f-1")).status_code == 201  # nothing was kept: the retry is the first send
    assert sim.stats()["submissions"] == {"f-1": 1}


def test_a_provider_down_answers_503_everywhere_but_control(api: httpx.Client, sim: SimControl) -> None:
    sim.configure(down=True)
    for answer in (api.post("/v1/messages", json=sms("d-1")), api.get("/v1/messages", params={"client_ref": "d-1"}),
                   rcs(api, "d-2"), api.get(f"/v1/phones/{CAPABLE}/capabilities"), api.post("/v1/users:batchGet", json={"users": []})):
        assert answer.status_code == 503
    assert sim.stats()["refused"] == {"down": 5}
    sim.configure(down=False)
    assert api.post("/v1/messages", json=sms("d-1")).status_code == 201


def test_capability_down_leaves_sends_working(api: httpx.Client, sim: SimControl) -> None:
    sim.configure(capability_down=True)
    assert api.get(f"/v1/phones/{CAPABLE}/capabilities").json()["error"]["status"] == "UNAVAILABLE"
    assert api.post("/v1/users:batchGet", json={"users": [CAPABLE]}).status_code == 503
    assert rcs(api, "c-1").status_code == 200 and api.post("/v1/messages", json=sms("c-2")).status_code == 201


def test_a_timeout_keeps_the_message_so_a_lookup_finds_it(api: httpx.Client, sim: SimControl) -> None:
    sim.configure(timeout_rate=1.0, timeout_hold_ms=3000)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/v1/messages", json=sms("t-1"), timeout=0.5)
    sim.configure(timeout_rate=0.0)
    found = api.get("/v1/messages", params={"client_ref": "t-1"})
    assert found.status_code == 200 and found.json()["client_ref"] == "t-1"
    assert sim.stats()["submissions"] == {"t-1": 1}


def test_config_is_validated_whole_and_reported(sim: SimControl) -> None:
    bad = httpx.post(f"{sim.url}/_sim/config", json={"error_rate": 0.5, "throttle_rate": 0.6})
    assert bad.status_code == 400 and "must not exceed 1" in bad.json()["error"]["message"]
    unknown = httpx.post(f"{sim.url}/_sim/config", json={"latency": 5})
    assert unknown.status_code == 400 and unknown.json()["error"]["message"].startswith("latency:")
    assert httpx.get(f"{sim.url}/_sim/config").json()["error_rate"] == 0.0
    assert sim.configure(latency_ms=20, seed=7)["latency_ms"] == 20


def test_stats_filter_by_prefix_and_reset_forgets_everything(api: httpx.Client, sim: SimControl) -> None:
    for ref in ("run-a-1", "run-a-2", "run-b-1"):
        api.post("/v1/messages", json=sms(ref))
    assert sim.stats(prefix="run-a-")["submissions"] == {"run-a-1": 1, "run-a-2": 1}
    sim.configure(down=True)
    sim.reset()
    stats = sim.stats()
    assert (stats["total"], stats["submissions"], stats["messages"]) == (0, {}, 0)
    assert httpx.get(f"{sim.url}/_sim/config").json()["down"] is False


def test_memory_is_bounded_by_max_messages() -> None:
    with private_sim(SimOptions(webhook_url=None, max_messages=3)) as control:
        with httpx.Client(base_url=control.url, headers={"Authorization": f"Bearer {control.token}"}) as api:
            for index in range(5):
                assert api.post("/v1/messages", json=sms(f"b-{index}")).status_code == 201
            stats = control.stats()
            assert (stats["messages"], stats["evicted"], sorted(stats["submissions"])) == (3, 2, ["b-2", "b-3", "b-4"])
            assert api.get("/v1/messages", params={"client_ref": "b-0"}).status_code == 404


def test_sends_carry_their_validity_and_a_bad_one_is_400(api: httpx.Client, sim: SimControl) -> None:
    sent = api.post("/v1/messages", json=sms("v-1", expire_at="2030-01-02T03:04:05.600Z"))
    assert sent.status_code == 201
    assert api.get("/v1/messages", params={"client_ref": "v-1"}).json()["expire_at"] == "2030-01-02T03:04:05.600Z"
    by_time = api.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "v-2"},
                       json={"contentMessage": {"text": "Hi"}, "expireTime": "2030-01-02T03:04:05Z"})
    by_ttl = api.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "v-3"},
                      json={"contentMessage": {"text": "Hi"}, "ttl": "90.5s"})
    assert by_time.status_code == by_ttl.status_code == 200
    found = api.get("/v1/messages", params={"client_ref": "v-2", "provider": "rbm"}).json()
    assert found["expire_at"] == "2030-01-02T03:04:05.000Z"
    assert api.get("/v1/messages", params={"client_ref": "v-3", "provider": "rbm"}).json()["expire_at"] is not None
    for body in ({"contentMessage": {"text": "Hi"}, "ttl": "90.5s", "expireTime": "2030-01-02T03:04:05Z"},
                 {"contentMessage": {"text": "Hi"}, "ttl": "soon"}, {"contentMessage": {"text": "Hi"}, "expireTime": "2030-01-02"}):
        refused = api.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "v-4"}, json=body)
        assert (refused.status_code, refused.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert api.post("/v1/messages", json=sms("v-5", expire_at="tomorrow")).json()["error"]["code"] == "invalid_request"
    assert sim.stats()["submissions"] == {"v-1": 1, "v-2": 1, "v-3": 1}


def test_a_message_past_its_ttl_is_reported_expired_not_delivered(api: httpx.Client, sim: SimControl) -> None:
    sim.configure(delivery_delay_ms=300)
    api.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "t-1"}, json={"contentMessage": {"text": "Hi"}, "ttl": "0.1s"})
    api.post(f"/v1/phones/{CAPABLE}/agentMessages", params={"messageId": "t-2"}, json={"contentMessage": {"text": "Hi"}, "ttl": "60s"})
    time.sleep(0.4)
    statuses = [api.get("/v1/messages", params={"client_ref": ref, "provider": "rbm"}).json()["status"] for ref in ("t-1", "t-2")]
    assert statuses == ["expired", "delivered"]
