"""Kubernetes manifests generated from the code (``courrier deploy render``): nothing here is written by hand twice.

``workloads.py`` says what runs (one Deployment per stage, per dispatch lane and per HTTP service, read from
``processors.catalog``, ``processors.runtime.lanes`` and the stage classes); ``manifests.py`` turns that into
Deployments, Services, the ConfigMaps and the topology Job; ``scaling.py`` into KEDA ``ScaledObject``s on each stage's
consumer lag; ``topics.py`` into Strimzi ``KafkaTopic``s from ``topology.topics``; ``target.py`` holds the cluster's
names for the peers; ``render.py`` groups it all in files, which ``yaml_out.py`` writes without PyYAML.
``health.py`` is the probe the pods and the image run (``courrier-health``).
"""
