"""The no-op provider (``noop``): accepts every submission at once and reports it delivered, without any network.

For measuring the pipeline without a provider's cost (``courrier bench chain`` runs the chain with it beside the chain
with SMPP) and for trying a deployment out. ``adapter`` (dispatch's provider), ``plugin`` (the kind). It never sends
anything anywhere: never route real traffic to it.
"""
