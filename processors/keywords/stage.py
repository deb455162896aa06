"""The keywords stage: ``inbound`` → ``consent`` + ``consent-history`` changes and a ``send-requested`` auto-reply."""
from __future__ import annotations

import logging
from pathlib import Path

from common.logs import mask_phone
from processors.keywords.book import DEFAULT_PATH, KeywordBook, load
from processors.keywords.logic import handle
from processors.runtime.stage import Event, Output, RecordMeta

log = logging.getLogger(__name__)


class KeywordsStage:
    """Answers STOP, START, HELP and their kin from the keyword file (loaded once); other texts produce nothing."""

    name = "keywords"
    inputs = ("inbound",)

    def __init__(self, book_path: Path = DEFAULT_PATH, book: KeywordBook | None = None) -> None:
        self._book = book if book is not None else load(Path(book_path))
        self.ignored = 0

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        outputs = handle(event, self._book)
        if not outputs:
            self.ignored += 1
            log.debug("inbound message is not a keyword", extra={"from": mask_phone(event["from_e164"]), "ignored": self.ignored})
        return outputs
