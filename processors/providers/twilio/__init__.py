"""Twilio Programmable Messaging: SMS and MMS through the Messages resource, status callbacks and inbound messages
through the webhook receiver (``/webhooks/twilio``), checked with ``X-Twilio-Signature``.

``adapter`` (dispatch's provider), ``webhook`` (signature and parser), ``statuses`` (status words and error codes),
``settings`` (``COURRIER_TWILIO_*``), ``fake`` (a local Twilio for tests)."""
