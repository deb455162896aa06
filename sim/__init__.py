"""The provider simulator: an HTTP server shaped like Google's RBM API (RCS) and an SMS/MMS aggregator's REST API.

It answers capability checks and sends, keeps what it accepted (bounded), posts delivery, read and inbound events
back as signed webhooks, and injects faults on request (``/_sim/config``). It listens on 127.0.0.1 only;
``python -m sim`` runs it, and ``courrier infra up`` starts it as the ``sim`` part. The HTTP contract is in
the README ("Provider simulator").
"""
