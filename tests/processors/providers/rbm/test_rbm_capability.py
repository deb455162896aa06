"""RCS capability from the fake RBM with OAuth tokens: one number, in bulk, not capable (404 / not reachable), cached
per TTL, the API or its tokens down (one outage costs one request), and requestId/agentId as RBM documents them."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from processors.channel.logic import CapabilityUnknown
from processors.providers.rbm.capability import CapabilityClient, rbm_capability
from processors.providers.rbm.fake import FakeRbm
from processors.providers.rbm.settings import RbmSettings

CAPABLE, NOT_CAPABLE = "+33612345671", "+33612345670"


@pytest.fixture
def lookup(settings_for: Callable[..., RbmSettings], fake: FakeRbm) -> Iterator[CapabilityClient]:
    fake.not_capable.add(NOT_CAPABLE)
    client = rbm_capability(settings_for(capability_ttl_s=100, capability_negative_ttl_s=10))
    yield client
    client.close()


def test_one_number_at_a_time_with_a_token_a_request_id_and_the_agent(lookup: CapabilityClient, fake: FakeRbm) -> None:
    assert lookup(CAPABLE) is True and lookup(NOT_CAPABLE) is False
    assert lookup(CAPABLE) is True  # cached
    assert fake.requests == [("capabilities", "200"), ("capabilities", "404")] and fake.tokens_issued == 1


def test_in_bulk_reachable_users_are_capable_and_the_rest_not(lookup: CapabilityClient, fake: FakeRbm) -> None:
    assert lookup.batch([CAPABLE, NOT_CAPABLE, "+33612345672"]) == {CAPABLE, "+33612345672"}
    assert lookup.cached(NOT_CAPABLE) is False and lookup.cached(CAPABLE) is True
    assert fake.requests == [("batchGet", "200")]


def test_an_outage_is_unknown_and_asked_again_only_after_a_pause(lookup: CapabilityClient, fake: FakeRbm) -> None:
    fake.fail_next("503", route="capabilities")
    with pytest.raises(CapabilityUnknown):
        lookup(CAPABLE)
    with pytest.raises(CapabilityUnknown):
        lookup("+33612345672")
    assert fake.requests == [("capabilities", "503")]


def test_a_refused_service_account_is_an_outage_too(settings_for: Callable[..., RbmSettings], fake: FakeRbm) -> None:
    fake.fail_next("400", route="token")
    client = rbm_capability(settings_for())
    try:
        with pytest.raises(CapabilityUnknown):
            client(CAPABLE)
    finally:
        client.close()
    assert fake.requests == []


def test_another_agent_is_refused_and_counts_as_an_outage(settings_for: Callable[..., RbmSettings], fake: FakeRbm) -> None:
    client = rbm_capability(settings_for(agent_id="someone-else"))
    try:
        with pytest.raises(CapabilityUnknown):
            client.batch([CAPABLE])
    finally:
        client.close()
    assert fake.requests == [("batchGet", "403")]
