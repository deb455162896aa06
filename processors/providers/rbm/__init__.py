"""Google RBM (RCS Business Messaging): RCS through the agentMessages API with OAuth 2 service-account tokens, events
and user messages through the webhook receiver (``/webhooks/<name>``), checked with ``X-Goog-Signature``, and the RCS
capability lookup the channel stage asks.

``adapter`` (dispatch's provider, revoke), ``auth`` (tokens over httpx), ``content`` (agent messages), ``capability``,
``webhook`` (handshake, signature, events), ``signature`` (shared with the simulator), ``statuses``, ``settings``
(``COURRIER_RBM_*``), ``fake`` (a local RBM for tests), ``plugin`` (the provider kind)."""
