"""Receipt: provider statuses normalized to one status set, with segments, channel and cost."""
