"""The HTTP intake: ``POST /v1/messages`` and its batch form validate, deduplicate and publish ``send-requested``."""
