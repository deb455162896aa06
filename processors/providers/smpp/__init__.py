"""SMPP 3.4: transceiver binds to an SMSC (plain or TLS), windowed submit_sm, delivery receipts and inbound messages
back over the binds.

``adapter`` (dispatch's provider), ``link`` (one bind: its connection and thread), ``outbox`` (what a bind has to
write), ``session`` (connecting and binding), ``pdu`` (the wire: framing and bodies), ``window`` (one submission run's
bookkeeping and each bind's pace), ``codec`` (addressing, text encoding, receipts as deliver_sm carry them),
``errors`` (command statuses by class), ``receipt`` (the appendix B receipt text, parsed strictly), ``settings`` and
``plugin`` (the provider kind), ``fake`` (a fault-playing, TLS-terminating front for an SMSC, for tests)."""
