"""The intake's part in status callbacks: each message's ``status_callback`` resolved (the API key's default when the
request names none) and checked at request time (``processors.callbacks.targets``), or the problem to answer (422)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from processors.callbacks.settings import CallbackSettings
from processors.callbacks.targets import TargetRefused, target
from processors.intake.models import MessageRequest, Problem
from processors.rules.addresses import AllowList
from processors.runtime.stage import Event


class CallbackCheck:
    """Resolves callback URLs against the key records ``lookup`` finds (None: no access control, so no key)."""

    def __init__(self, lookup: Callable[[str | None], Event | None] | None, settings: CallbackSettings | None = None) -> None:
        self._lookup = lookup
        self._allow = AllowList.parse((settings or CallbackSettings()).allow_hosts)

    def apply(self, api_key_id: str | None, messages: Sequence[MessageRequest]) -> list[MessageRequest | Problem]:
        """Per message, in order: the message with its callback URL set (or none), or why its callback is refused.
        Each distinct URL is checked once per call (a batch of 1,000 messages to one URL resolves it once)."""
        key = self._lookup(api_key_id) if self._lookup is not None else None
        checked: dict[str | None, str | None | TargetRefused] = {}
        results: list[MessageRequest | Problem] = []
        for message in messages:
            requested = message.status_callback
            if requested not in checked:
                try:
                    checked[requested] = target(requested, key, self._allow)
                except TargetRefused as refused:
                    checked[requested] = refused
            found = checked[requested]
            if isinstance(found, TargetRefused):
                results.append(Problem(code=found.code, message=found.message, field="status_callback"))
            else:
                results.append(message if found == requested else message.model_copy(update={"status_callback": found}))
        return results
