"""The channel stage: ``consent-checked`` → ``channel-resolved``, or a suppressed receipt."""
from __future__ import annotations

from processors.channel.logic import MMS_REGIONS, CapabilityLookup, no_rcs_provider, resolve
from processors.channel.senders import SenderPools
from processors.runtime.stage import Event, Output, RecordMeta


class ChannelStage:
    """Picks the channel by policy, MMS regions and RCS capability, and a sticky sender from the region's pools."""

    name = "channel"
    inputs = ("consent-checked",)

    def __init__(self, pools: SenderPools | None = None, rcs_capable: CapabilityLookup = no_rcs_provider,
                 mms_regions: frozenset[str] = MMS_REGIONS) -> None:
        self._pools = pools if pools is not None else SenderPools.load()
        self._rcs_capable = rcs_capable
        self._mms_regions = frozenset(mms_regions)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return resolve(event, self._pools, self._rcs_capable, meta.now, self._mms_regions)
