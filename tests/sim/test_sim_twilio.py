"""The simulator's Twilio: the Messages resource's answers and error codes, its list and fetch, status callbacks and
inbound messages checked by the Twilio provider's own verifier and parser, opt-out, queued faults, and the real
Twilio adapter sending through it (a lost answer reconciled from the list, never sent twice)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from processors.dispatch.provider import Submission
from processors.providers.twilio.adapter import TwilioProvider
from processors.providers.twilio.settings import TwilioSettings
from processors.providers.twilio.webhook import TwilioVerifier, parse
from sim.simulator import SimOptions
from sim.testing import SimControl, WebhookCollector, private_sim, webhook_collector

TO, FROM = "+33612345671", "+33700000001"


@pytest.fixture
def collector() -> Iterator[WebhookCollector]:
    with webhook_collector() as received:
        yield received


@pytest.fixture
def twilio_sim(collector: WebhookCollector) -> Iterator[SimControl]:
    options = SimOptions(webhook_url=None, twilio_inbound_url=f"{collector.origin}/webhooks/twilio")
    with private_sim(options, delivery_delay_ms=0) as control:
        yield control


@pytest.fixture
def api(twilio_sim: SimControl) -> Iterator[httpx.Client]:
    with httpx.Client(auth=twilio_sim.twilio_auth(), timeout=10) as client:
        yield client


def callback_url(collector: WebhookCollector) -> str:
    return f"{collector.origin}/webhooks/twilio?tenant=demo"  # a query is part of what Twilio signs


def create(api: httpx.Client, sim: SimControl, **form: str | list[str]) -> httpx.Response:
    return api.post(sim.twilio_api(), data={"To": TO, "From": FROM, "Body": "Votre code : 123456", **form})


def code(answer: httpx.Response) -> tuple[int, int]:
    body = answer.json()
    assert set(body) == {"code", "message", "more_info", "status"} and body["status"] == answer.status_code
    return answer.status_code, body["code"]


def verifier(sim: SimControl, collector: WebhookCollector) -> TwilioVerifier:
    return TwilioVerifier(sim.twilio_auth()[1], (callback_url(collector), f"{collector.origin}/webhooks/twilio"))


def test_a_message_is_created_as_twilio_answers_it(twilio_sim: SimControl, api: httpx.Client) -> None:
    answer = create(api, twilio_sim, ValidityPeriod="600")
    assert answer.status_code == 201
    message = answer.json()
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34 and message["account_sid"] == twilio_sim.twilio_auth()[0]
    assert (message["to"], message["from"], message["body"], message["status"], message["direction"]) == (
        TO, FROM, "Votre code : 123456", "queued", "outbound-api")
    assert message["uri"] == f"/2010-04-01/Accounts/{message['account_sid']}/Messages/{message['sid']}.json"
    mms = create(api, twilio_sim, MediaUrl=["https://cdn.example/a.jpg", "https://cdn.example/b.jpg"], Body="")
    assert mms.json()["sid"].startswith("MM") and mms.json()["num_media"] == "2"
    service = create(api, twilio_sim, From="", MessagingServiceSid="MG" + "a" * 32)
    assert (service.json()["status"], service.json()["from"]) == ("accepted", None)
    assert twilio_sim.stats()["by_channel"] == {"sms": 2, "mms": 1}


@pytest.mark.parametrize(("form", "expected"), [
    ({"To": "0612345671"}, (400, 21211)),
    ({"From": ""}, (400, 21603)),
    ({"From": "", "MessagingServiceSid": "MG-nope"}, (400, 21701)),
    ({"Body": ""}, (400, 21602)),
    ({"Body": "x" * 1601}, (400, 21617)),
    ({"MediaUrl": "ftp://cdn.example/a.jpg"}, (400, 21620)),
    ({"StatusCallback": "not a url"}, (400, 21609)),
    ({"ValidityPeriod": "36001"}, (400, 90007)),
])
def test_bad_requests_earn_twilios_codes_and_make_nothing(twilio_sim: SimControl, api: httpx.Client, form: dict[str, str],
                                                         expected: tuple[int, int]) -> None:
    assert code(create(api, twilio_sim, **form)) == expected
    assert twilio_sim.stats()["total"] == 0


def test_basic_auth_and_the_account_in_the_path(twilio_sim: SimControl) -> None:
    sid, token = twilio_sim.twilio_auth()
    wrong = httpx.post(twilio_sim.twilio_api(), data={"To": TO, "From": FROM, "Body": "x"}, auth=(sid, "not-the-token"))
    assert code(wrong) == (401, 20003) and wrong.headers["www-authenticate"].startswith("Basic")
    assert code(httpx.get(twilio_sim.twilio_api())) == (401, 20003)
    other = twilio_sim.twilio_api().replace(sid, "AC" + "0" * 32)
    assert code(httpx.get(other, auth=(sid, token))) == (404, 20404)


def test_the_list_is_newest_first_filtered_and_paged(twilio_sim: SimControl, api: httpx.Client) -> None:
    sids = [create(api, twilio_sim, Body=f"n°{i}").json()["sid"] for i in range(3)]
    create(api, twilio_sim, To="+33612345679")
    probe = api.get(twilio_sim.twilio_api(), params={"PageSize": "1"}).json()  # what the adapter's open() asks
    assert len(probe["messages"]) == 1 and probe["next_page_uri"] is not None
    first = api.get(twilio_sim.twilio_api(), params={"To": TO, "From": FROM, "PageSize": "2"}).json()
    assert [m["sid"] for m in first["messages"]] == sids[:0:-1] and first["page"] == 0
    second = api.get(f"{twilio_sim.url}{first['next_page_uri']}").json()
    assert [m["sid"] for m in second["messages"]] == sids[:1] and second["next_page_uri"] is None
    fetched = api.get(twilio_sim.twilio_api().replace("Messages.json", f"Messages/{sids[0]}.json"))
    assert fetched.json()["body"] == "n°0" and fetched.json()["status"] in ("sent", "delivered")
    assert code(api.get(twilio_sim.twilio_api().replace("Messages.json", "Messages/SM" + "0" * 32 + ".json"))) == (404, 20404)


def test_status_callbacks_are_signed_as_twilio_signs_them(twilio_sim: SimControl, api: httpx.Client, collector: WebhookCollector) -> None:
    sid = create(api, twilio_sim, StatusCallback=callback_url(collector)).json()["sid"]
    create(api, twilio_sim)  # no StatusCallback: Twilio posts nothing for it
    sent, delivered = sorted(collector.wait_for(2), key=lambda p: p.form["MessageStatus"] != "sent")
    assert [p.form["MessageStatus"] for p in (sent, delivered)] == ["sent", "delivered"]
    assert delivered.path == "/webhooks/twilio?tenant=demo" and delivered.headers["content-type"] == "application/x-www-form-urlencoded"
    check = verifier(twilio_sim, collector)
    for post in (sent, delivered):
        assert post.form["MessageSid"] == post.form["SmsSid"] == sid and post.form["AccountSid"] == twilio_sim.twilio_auth()[0]
        assert check.verify(post.headers, post.body, time.time()) == post.headers["x-twilio-signature"]
    (record,) = parse(delivered.body).outputs
    assert (record.topic, record.key, record.value["raw_status"], record.value["error_code"]) == ("provider-events", sid, "delivered", None)
    deadline = time.monotonic() + 5
    while twilio_sim.stats()["webhooks"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(collector.received) == 2  # nothing queued for the message without a StatusCallback


def test_undelivered_and_expired_carry_twilios_error_codes(twilio_sim: SimControl, api: httpx.Client, collector: WebhookCollector) -> None:
    twilio_sim.configure(undelivered_rate=1)
    create(api, twilio_sim, StatusCallback=callback_url(collector))
    twilio_sim.configure(undelivered_rate=0, delivery_delay_ms=5_000)
    expiring = create(api, twilio_sim, StatusCallback=callback_url(collector), ValidityPeriod="1").json()["sid"]
    finals = {p.form["MessageStatus"]: p.form.get("ErrorCode") for p in collector.wait_for(3) if p.form["MessageStatus"] != "sent"}
    assert finals == {"undelivered": "30003", "failed": "30036"}
    fetched = api.get(twilio_sim.twilio_api().replace("Messages.json", f"Messages/{expiring}.json")).json()
    assert (fetched["status"], fetched["error_code"], fetched["date_sent"]) == ("failed", 30036, None)


def test_inbound_messages_are_signed_and_stop_blocks_the_sender(twilio_sim: SimControl, api: httpx.Client,
                                                                collector: WebhookCollector) -> None:
    sid = twilio_sim.inbound(TO, FROM, "STOP", provider="twilio")
    (post,) = collector.wait_for(1)
    assert verifier(twilio_sim, collector).verify(post.headers, post.body, time.time())
    assert (post.form["MessageSid"], post.form["From"], post.form["To"], post.form["Body"], post.form["SmsStatus"]) == (
        sid, TO, FROM, "STOP", "received")
    (record,) = parse(post.body).outputs
    assert (record.topic, record.key, record.value["text"], record.value["to_sender_id"]) == ("inbound", TO, "STOP", FROM)
    assert code(create(api, twilio_sim)) == (400, 21610)
    assert create(api, twilio_sim, From="+33700000002").status_code == 201  # another of our numbers may still write
    twilio_sim.inbound(TO, FROM, "start", provider="twilio")
    assert create(api, twilio_sim).status_code == 201
    twilio_sim.inbound(TO, FROM, "Voici", provider="twilio", media_urls=["https://cdn.example/p.jpg"])
    media = collector.wait_for(3)[-1]
    assert media.form["NumMedia"] == "1" and parse(media.body).outputs[0].value["media_urls"] == ["https://cdn.example/p.jpg"]


def test_queued_faults_answer_in_twilios_words(twilio_sim: SimControl, api: httpx.Client) -> None:
    twilio_sim.fail_next("twilio", "throttled", "unauthorized", "forbidden", "server_error", "bad_request")
    throttled = create(api, twilio_sim)
    assert code(throttled) == (429, 20429) and throttled.headers["retry-after"] == "1"
    assert [code(create(api, twilio_sim)) for _ in range(4)] == [(401, 20003), (403, 20403), (503, 20503), (400, 21612)]
    assert twilio_sim.stats()["total"] == 0


def adapter(sim: SimControl, collector: WebhookCollector, **settings: object) -> TwilioProvider:
    sid, token = sim.twilio_auth()
    return TwilioProvider(TwilioSettings(account_sid=sid, auth_token=token, api_url=sim.url, status_callback_url=callback_url(collector),
                                         **settings))


def submission(message_id: str, text: str) -> Submission:
    return Submission(message_id=message_id, sender_id=FROM, sender_type="LONG_CODE", destination=TO, text=text, encoding="GSM7",
                      expires_at=datetime.now(timezone.utc) + timedelta(minutes=10))


def test_the_twilio_adapter_sends_through_the_simulator_and_its_callbacks_verify(twilio_sim: SimControl,
                                                                                 collector: WebhookCollector) -> None:
    provider = adapter(twilio_sim, collector)
    provider.open()
    try:
        (result,) = provider.submit_many([submission("m-1", "Votre code : 111111")], timeout_s=10)
    finally:
        provider.close()
    assert result.accepted and result.provider_message_ids[0].startswith("SM")
    posts = collector.wait_for(2)
    assert {p.form["MessageSid"] for p in posts} == set(result.provider_message_ids)
    assert all(verifier(twilio_sim, collector).verify(p.headers, p.body, time.time()) for p in posts)


def test_a_lost_answer_is_reconciled_from_the_list_not_sent_again(twilio_sim: SimControl, collector: WebhookCollector) -> None:
    twilio_sim.configure(timeout_hold_ms=2_000)
    twilio_sim.fail_next("twilio", "lost_answer")
    provider = adapter(twilio_sim, collector, request_timeout_s=0.5)
    provider.open()
    try:
        (result,) = provider.submit_many([submission("m-2", "Votre code : 222222")], timeout_s=10)
        if not result.accepted:  # the immediate lookup may come before the held answer's message shows: reconcile later
            later = provider.reconcile("m-2", "SMS")
            assert later is not None and later.accepted
            result = later
    finally:
        provider.close()
    assert result.accepted and result.detail == "reconciled"
    assert twilio_sim.stats()["total"] == 1  # made once
