"""The knowledge: manufacturer list, rules as data files, and the pure matcher."""

from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from fingerprints.selftest import run_selftest

__all__ = [
    "Evidence",
    "HostReport",
    "Identification",
    "KnowledgeBase",
    "Observation",
    "Status",
    "default_kb",
    "identify",
    "run_selftest",
]
