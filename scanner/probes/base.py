"""The shape every probe shares (after ZGrab2's module/scanner split).

A probe has a unique ``name``, the ports it applies to, and an async
``run(target, ctx)`` returning a :class:`ProbeResult`.  It never opens
sockets its own way: ``ctx`` hands it the connection function, limits and
timeouts, so the engine controls concurrency and rate.  A misbehaving device
is data: ``run`` returns a :class:`Status` and whatever evidence it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from fingerprints.evidence import MAX_RAW_BYTES, Observation, Status

#: A probe result is an observation: the name the probes use for it.
ProbeResult = Observation

__all__ = ["MAX_RAW_BYTES", "Observation", "Probe", "ProbeContext", "ProbeResult", "Status", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """One address and port a probe should look at."""

    ip: str
    port: int
    hostname: str | None = None


OpenConnection = Callable[[str, int, float], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass(slots=True)
class ProbeContext:
    """What the engine lends a probe: how to connect, and how long to wait."""

    open_connection: OpenConnection
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 3.0
    max_raw_bytes: int = MAX_RAW_BYTES


class Probe(Protocol):
    """A protocol probe: one per module under ``scanner/probes``."""

    name: str
    ports: tuple[int, ...]

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult: ...
