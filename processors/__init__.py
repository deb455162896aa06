"""Courrier's stages, one folder per stage in topic-chain order, and the one runtime they all run on."""
