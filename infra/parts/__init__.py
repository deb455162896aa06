"""The five real parts, one module each, in the order they start."""
from __future__ import annotations

from infra.part import Part
from infra.parts.kafka import KAFKA
from infra.parts.registry import REGISTRY
from infra.parts.s3 import S3
from infra.parts.sim import SIM
from infra.parts.smsc import SMSC

ALL: dict[str, Part] = {part.name: part for part in (KAFKA, REGISTRY, S3, SMSC, SIM)}

__all__ = ["ALL", "KAFKA", "REGISTRY", "S3", "SIM", "SMSC"]
