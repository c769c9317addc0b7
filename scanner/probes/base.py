"""The shape every probe shares (after ZGrab2's module/scanner split).

A probe has a unique ``name``, the ports it applies to, and an async
``run(target, ctx)`` returning a :class:`ProbeResult`.  It never opens
sockets its own way: ``ctx`` hands it the connection function, the UDP
exchange function, limits and timeouts, so the engine controls concurrency
and rate.  A misbehaving device is data: ``run`` returns a :class:`Status`
and whatever evidence it got.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from fingerprints.evidence import MAX_RAW_BYTES, Observation, Status

#: A probe result is an observation: the name the probes use for it.
ProbeResult = Observation

__all__ = [
    "MAX_RAW_BYTES",
    "Observation",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "Status",
    "Target",
    "bounded",
    "read_bounded",
]


@dataclass(frozen=True, slots=True)
class Target:
    """One address and port a probe should look at."""

    ip: str
    port: int
    hostname: str | None = None


class OpenConnection(Protocol):
    """``(host, port, timeout_s, tls=None) -> (reader, writer)``, rate-limited by the engine."""

    def __call__(
        self, host: str, port: int, timeout_s: float, tls: ssl.SSLContext | None = None
    ) -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]: ...


#: ``(host, port, payload, timeout_s, retries) -> [(reply, source_ip)]``: send a
#: datagram (resent ``retries`` times if nothing comes back: UDP is lossy) and
#: collect the replies that arrive on the sending socket until ``timeout_s``.
UdpExchange = Callable[[str, int, bytes, float, int], Awaitable[list[tuple[bytes, str]]]]


async def _no_udp(
    host: str, port: int, payload: bytes, timeout_s: float, retries: int
) -> list[tuple[bytes, str]]:
    return []


def _no_verify_tls() -> ssl.SSLContext:
    # Cameras ship self-signed certificates: we record the certificate, we do
    # not trust it, and we never send credentials over these connections.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Old camera firmware speaks only TLS 1.0: deprecated, and still what the device offers.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


@dataclass(slots=True)
class ProbeContext:
    """What the engine lends a probe: how to connect, and how long to wait."""

    open_connection: OpenConnection
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 3.0
    max_raw_bytes: int = MAX_RAW_BYTES
    udp_exchange: UdpExchange = _no_udp
    udp_timeout_s: float = 1.0
    udp_retries: int = 2
    tls_context: ssl.SSLContext = field(default_factory=_no_verify_tls)


class Probe(Protocol):
    """A protocol probe: one per module under ``scanner/probes``."""

    name: str
    ports: tuple[int, ...]

    async def run(self, target: Target, ctx: ProbeContext) -> ProbeResult: ...


def bounded(text: str | None, limit: int = 512) -> str | None:
    """Trim and bound a value taken from a device (devices are untrusted)."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text[:limit] or None


async def read_bounded(
    reader: asyncio.StreamReader,
    limit: int,
    timeout_s: float,
    until: bytes = b"",
    complete: Callable[[bytes], bool] | None = None,
) -> bytes:
    """Read until EOF, ``limit`` bytes, ``until`` seen, ``complete(buf)`` true, or ``timeout_s`` overall."""
    buf = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(buf) < limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(limit - len(buf)), remaining)
        except TimeoutError:
            break
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
        if until and until in buf:
            break
        if complete is not None and complete(bytes(buf)):
            break
    return bytes(buf)
