"""Errors of ``courrier topology``: each is one line naming the part that refused and what to do."""
from __future__ import annotations

from common.errors import CourrierError


class TopologyError(CourrierError):
    """The broker or the registry answered but refused a change (bad replication factor, incompatible schema…)."""
