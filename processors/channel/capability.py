"""The channel stage's RCS capability lookup while no RBM provider is configured: the simulator's RBM-shaped API.

The client itself is RBM's (``processors.providers.rbm.capability.CapabilityClient``); here it is pointed at
``COURRIER_RBM_URL`` with the simulator's static bearer token. A configured RBM provider brings its own lookup (with
OAuth tokens and its agent) through the provider registry.
"""
from __future__ import annotations

from courrier.config import Settings
from processors.channel.logic import CapabilityLookup, no_rcs_provider
from processors.providers.rbm.capability import CapabilityClient, static_bearer


def capability_lookup(settings: Settings) -> CapabilityLookup:
    """A cached client of ``COURRIER_RBM_URL``, or "unknown" for everyone when it is unset."""
    if not settings.rbm_url:
        return no_rcs_provider
    return CapabilityClient(settings.rbm_url, static_bearer(settings.sim_token), ttl_s=settings.rcs_capability_ttl_s,
                            negative_ttl_s=settings.rcs_capability_negative_ttl_s, max_entries=settings.rcs_capability_cache_size,
                            timeout_s=settings.rcs_capability_timeout_s)
