"""Kubernetes manifests generated from the code (``courrier deploy render``): nothing here is written by hand twice.

``workloads.py`` says what runs (one Deployment per stage, per dispatch lane and per HTTP service, read from
``processors.catalog``, ``processors.dispatch.lanes`` and the stage classes); ``manifests.py`` turns that into
Deployments, Services and the ConfigMaps; ``scaling.py`` into KEDA ``ScaledObject``s on each stage's consumer lag;
``topics.py`` into Strimzi ``KafkaTopic``s from ``topology.topics``; ``yaml_out.py`` writes them without PyYAML.
"""
