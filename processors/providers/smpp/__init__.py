"""SMPP 3.4: a transceiver bind to an SMSC, windowed submit_sm, delivery receipts and inbound messages back on the bind.

``adapter`` (dispatch's provider), ``session`` (binding and ending a session), ``window`` (one submission run's
bookkeeping and the bind's pace), ``codec`` (addressing, text encoding, receipts as deliver_sm carry them),
``errors`` (command statuses by class), ``receipt`` (the appendix B receipt text, parsed strictly)."""
