"""Vonage's Messages API: SMS sent with ``POST /v1/messages``, message status and inbound SMS through the webhook
receiver (``/webhooks/<name>``), checked with the bearer JWT Vonage signs them with.

``adapter`` (dispatch's provider), ``webhook`` (parser), ``signature`` (the JWT check), ``statuses`` (status words
and error codes), ``settings`` (``COURRIER_VONAGE_*``), ``fake`` (a local Vonage for tests), ``plugin`` (the kind)."""
