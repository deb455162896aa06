"""Keyword completeness: a sender or a subscription group may not send marketing until its STOP and HELP responses are set.

A sender's STOP response is the opt-out confirmation, spoken for its ``brand``; its HELP response says where help lives
(``help``). Both come from its entry in the keyword book (``keywords.senders.<id>``); an entry may be declared before
they are written, and then it is incomplete. A subscription group's responses are those of the senders that list it
(an unqualified STOP sent to them is what takes a number out of the group): a group is complete when at least one
sender lists it and every sender that lists it is complete. ``courrier config check`` reports every incomplete entry;
per message, the consent stage refuses a marketing message whose group is incomplete, and the channel stage one whose
chosen sender (or SMS fallback sender) is (``REJECTED keywords_incomplete``), naming what is missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from processors.keywords.book import DEFAULT_SENDER, KeywordBook, Sender, from_mapping, load
from processors.rules.keywords import KEYWORDS_INCOMPLETE

REASON = KEYWORDS_INCOMPLETE
# Each response and the field of a sender's entry it is written from.
RESPONSES = (("STOP", "brand"), ("HELP", "help"))


def sender_missing(sender_id: str, sender: Sender) -> list[str]:
    """What one sender entry lacks, e.g. ``HELP response (keywords.senders.36180.help)``; empty when complete."""
    return [f"{response} response (keywords.senders.{sender_id}.{field})"
            for response, field in RESPONSES if not getattr(sender, field).strip()]


@dataclass(frozen=True)
class Completeness:
    """The keyword book's senders and who lists which group, for asking what a group or sender lacks."""

    senders: Mapping[str, Sender]
    declared_groups: frozenset[str]

    @classmethod
    def of(cls, book: KeywordBook) -> "Completeness":
        return cls(book.senders, frozenset(book.group_words))

    def sender_refusal(self, sender_id: str) -> str | None:
        """Why ``sender_id`` may not send marketing yet (its entry's, or the ``default`` entry's for a sender the book
        does not list), or None when it may."""
        listed = sender_id if sender_id in self.senders else DEFAULT_SENDER
        missing = sender_missing(listed, self.senders[listed])
        if not missing:
            return None
        return f"sender {sender_id!r} may not send marketing until its responses are set: missing {', '.join(missing)}"

    def group_missing(self, group: str) -> str | None:
        """Why ``group`` may not send marketing yet (one sentence naming what to set), or None when it may."""
        listing = sorted(sender_id for sender_id, sender in self.senders.items() if group in sender.groups)
        if not listing:
            return (f"subscription group {group!r} has no STOP or HELP response: no sender in keywords.senders lists it "
                    "in its groups (an unqualified STOP to that sender is what opts a number out of the group)")
        missing = [item for sender_id in listing for item in sender_missing(sender_id, self.senders[sender_id])]
        if missing:
            return f"subscription group {group!r} is sent for by senders whose responses are not set: {', '.join(missing)}"
        return None

    def problems(self) -> list[str]:
        """Every incomplete sender entry and every declared group no complete sender answers for, one line each."""
        lines = [f"keywords.senders.{sender_id}: missing {', '.join(missing)}"
                 for sender_id, sender in sorted(self.senders.items()) if (missing := sender_missing(sender_id, sender))]
        lines += [problem for group in sorted(self.declared_groups) if (problem := self.group_missing(group)) is not None]
        return lines


def configured() -> Completeness:
    """Who answers STOP and HELP in this deployment: the configuration file's ``[keywords]`` (``$COURRIER_CONFIG``, else
    ``courrier.toml``), else the bundled book. Only the file's tables are read: its providers are dispatch's business."""
    from common.config import config_file
    from processors.providers.deployment import load_deployment

    deployment = load_deployment(config_file())
    raw = deployment.keywords
    return Completeness.of(from_mapping(raw, f"{deployment.source}: keywords") if raw is not None else load())
