"""The status stage: receipts projected into a message's current status (``message-status``) and a campaign's counts (``campaign-status``), read by the HTTP intake's GET routes."""
