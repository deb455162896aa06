"""The provider simulator's own HTTP contract (``sim``): SMS and MMS through its aggregator API, RCS through its
RBM-shaped API, webhooks in its own signed JSON. For the local demo and tests only; real networks are reached through
the ``smpp``, ``rbm``, ``twilio`` and ``vonage`` kinds."""
