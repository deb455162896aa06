"""Webhook receiver: signed provider callbacks (delivery, read, inbound) → ``provider-events`` and ``inbound``."""
