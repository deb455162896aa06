"""The provider simulator: one HTTP server that plays Google RBM (RCS, with Google's OAuth token endpoint), Twilio
Programmable Messaging (SMS/MMS) and, for Courrier's generic HTTP provider, a legacy aggregator API of its own.

It answers as each provider documents (``sim.rbm``, ``sim.twilio``, ``sim.oauth``, ``sim.legacy``), keeps what it
accepted (bounded), posts each provider's webhooks in that provider's shape and signature, and injects faults on
request (``/_sim/config``, ``/_sim/fail_next``; ``sim.app`` lists the control routes). It listens on 127.0.0.1 only;
``python -m sim`` runs it, and ``courrier infra up`` starts it as the ``sim`` part with the credentials it generates
into the state directory (``sim.credentials``).
"""
