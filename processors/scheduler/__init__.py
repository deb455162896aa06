"""The delay-topic scheduler: puts records from ``retry``, ``scheduled`` and ``timers`` on their target topic when due."""
