"""The delay-topic scheduler: puts records from ``retry`` and ``scheduled`` back on their target topic when due."""
