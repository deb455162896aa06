"""The one runtime every stage runs on: consume, decode, process, produce, commit, dead-letter, retry, metrics."""
