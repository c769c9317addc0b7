"""The async scan engine: bounded concurrency, rate limit, deadlines, discovery merge.

Addresses are pulled lazily from the target iterator and a silent address
leaves nothing behind, so memory stays flat however large the target.  Per
address: TCP connect on the port set, then each service probe on the open
ports it applies to, then a directed WS-Discovery probe if anything is open.
Findings of the once-per-scan local-segment discovery (ARP, WS-Discovery
multicast, mDNS) are merged into the address's report, and an address seen
only by discovery is still reported.  Cameras are fragile, so concurrency
per host is low by default and new connections are rate limited globally.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fingerprints.evidence import HostReport, Observation, Status
from scanner.credentials import OnvifCredentials
from scanner.probes import default_service_probes
from scanner.probes.base import Probe, ProbeContext, Target
from scanner.probes.onvif import OnvifProbe
from scanner.probes.tcp import CAMERA_PORTS, TcpConnectProbe
from scanner.probes.wsd import WsdProbe
from scanner.progress import Progress, ProgressCallback
from scanner.targets import IPAddress
from scanner.udp import udp_exchange

#: Default global rate of new connections: gentle enough for fragile cameras.
DEFAULT_RATE_PPS = 500.0
DEFAULT_PER_HOST = 2

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """How gently to scan.  Every wait has a named timeout."""

    concurrency: int = 256  # addresses in flight at once
    per_host_concurrency: int = DEFAULT_PER_HOST  # connections to one address at once
    rate_pps: float = DEFAULT_RATE_PPS  # new connections per second, globally (0: unlimited)
    connect_timeout_s: float = 1.5
    read_timeout_s: float = 3.0
    udp_timeout_s: float = 1.0  # each unicast UDP exchange, resends included
    udp_retries: int = 2  # resends of a lost UDP request
    host_timeout_s: float = 30.0  # everything for one address
    deadline_s: float | None = None  # the whole scan


class RateLimiter:
    """Token bucket on new connections (``rate_pps`` per second, small burst)."""

    def __init__(self, rate_pps: float) -> None:
        self.rate = rate_pps
        self.capacity = max(1.0, rate_pps / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class ScanDeadlineExceeded(Exception):
    """The whole-scan deadline passed; ``progress`` says how far it got."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(f"scan deadline reached after {progress.done}/{progress.total} addresses")
        self.progress = progress


def merge(report: HostReport, found: HostReport | None) -> HostReport:
    """Add what local-segment discovery saw of this address to its sweep report."""
    if found is None:
        return report
    report.observations.extend(found.observations)
    if found.mac and not report.mac:
        report.mac = found.mac
    return report


def _xaddr_ports(report: HostReport) -> set[int]:
    """Ports of the device-service URLs a device advertised over WS-Discovery (same host only)."""
    ports = set()
    for e in report.evidence:
        if e.key != "wsd.xaddr":
            continue
        try:
            parts = urlsplit(e.value)
            if parts.hostname == report.ip and parts.scheme in ("http", "https"):
                ports.add(parts.port or (443 if parts.scheme == "https" else 80))
        except ValueError:
            continue
    return ports


class Engine:
    """Runs probes over addresses with the limits given."""

    def __init__(
        self,
        ports: Sequence[int] = CAMERA_PORTS,
        limits: ScanLimits | None = None,
        service_probes: Sequence[Probe] | None = None,
        probe_ports: dict[str, Sequence[int]] | None = None,
        credentials: OnvifCredentials | None = None,
        directed_wsd: bool = True,
    ) -> None:
        """``probe_ports`` overrides, per probe name, which open ports it runs on.

        ``credentials`` is the one operator-supplied ONVIF account (never guessed).
        """
        self.ports = tuple(ports)
        self.limits = limits or ScanLimits()
        if service_probes is None:
            service_probes = default_service_probes(credentials)
        self.service_probes = tuple(service_probes)
        overrides = probe_ports or {}
        self.probe_ports = {p.name: frozenset(overrides.get(p.name, p.ports)) for p in self.service_probes}
        self.rate = RateLimiter(self.limits.rate_pps)
        self.tcp = TcpConnectProbe()
        self.wsd = WsdProbe() if directed_wsd else None
        # One context for the whole scan: building an SSL context per host costs milliseconds.
        self.ctx = ProbeContext(
            open_connection=self._open,
            connect_timeout_s=self.limits.connect_timeout_s,
            read_timeout_s=self.limits.read_timeout_s,
            udp_exchange=self._udp,
            udp_timeout_s=self.limits.udp_timeout_s,
            udp_retries=self.limits.udp_retries,
        )

    async def _open(
        self, host: str, port: int, timeout_s: float, tls: ssl.SSLContext | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await self.rate.acquire()
        # asyncio.timeout, not wait_for: on 3.11 wait_for wraps every connect in a new task.
        async with asyncio.timeout(timeout_s):
            return await asyncio.open_connection(
                host,
                port,
                limit=64 * 1024,
                ssl=tls,
                ssl_handshake_timeout=timeout_s if tls else None,
            )

    async def _udp(
        self, host: str, port: int, payload: bytes, timeout_s: float, retries: int
    ) -> list[tuple[bytes, str]]:
        await self.rate.acquire()
        return await udp_exchange(host, port, payload, timeout_s, retries)

    def context(self) -> ProbeContext:
        return self.ctx

    async def scan_host(self, ip: str, found: HostReport | None = None) -> HostReport:
        """Connect to every port, then run service probes on the open ones."""
        report = merge(HostReport(ip), found)
        ctx = self.ctx
        host_sem = asyncio.Semaphore(self.limits.per_host_concurrency)

        async def guarded(probe: Probe, port: int) -> None:
            async with host_sem:
                try:
                    result = await probe.run(Target(ip, port), ctx)
                except Exception as exc:  # a probe bug must not end the host or the scan
                    # Probes return statuses for every device misbehaviour; reaching here is our
                    # bug.  Record it as data (type only: a message may quote device bytes) and
                    # log the traceback so it can be fixed, without losing the other probes.
                    log.error(
                        "probe %s on %s:%d raised %s", probe.name, ip, port, type(exc).__name__, exc_info=True
                    )
                    result = Observation(
                        probe.name, ip, port, Status.ERROR, detail=f"probe failed: {type(exc).__name__}"
                    )
                report.observations.append(result)

        async with asyncio.TaskGroup() as tg:
            for port in self.ports:
                tg.create_task(guarded(self.tcp, port))
        if not report.open_ports and found is None:
            return report  # a silent address: nothing more to do, nothing kept
        # A device-service port a device advertised over WS-Discovery is probed too.
        extra = sorted(_xaddr_ports(report) - set(self.ports))
        if extra:
            async with asyncio.TaskGroup() as tg:
                for port in extra:
                    tg.create_task(guarded(self.tcp, port))
        open_ports = report.open_ports
        async with asyncio.TaskGroup() as tg:
            for probe in self.service_probes:
                for port in open_ports:
                    wanted = port in self.probe_ports[probe.name] or (
                        isinstance(probe, OnvifProbe) and port in extra
                    )
                    if wanted:
                        tg.create_task(guarded(probe, port))
            already_wsd = any(o.probe == "wsd" and o.status is Status.SUCCESS for o in report.observations)
            if self.wsd is not None and open_ports and not already_wsd:
                tg.create_task(guarded(self.wsd, self.wsd.ports[0]))
        return report

    async def scan(
        self,
        addresses: Iterator[IPAddress],
        progress: Progress | None = None,
        on_progress: ProgressCallback | None = None,
        discovered: dict[str, HostReport] | None = None,
    ) -> AsyncIterator[HostReport]:
        """Yield a report for every address with an open port or a discovery finding.

        ``discovered`` (address -> what local-segment discovery saw) is consumed:
        each entry is merged into its address's report and dropped.
        """
        progress = progress or Progress(total=0)
        progress.started = time.monotonic()
        found = discovered if discovered is not None else {}
        queue: asyncio.Queue[HostReport | None] = asyncio.Queue(maxsize=self.limits.concurrency)
        sem = asyncio.Semaphore(self.limits.concurrency)

        async def one(ip: str) -> None:
            try:
                seen = found.pop(ip, None)
                try:
                    async with asyncio.timeout(self.limits.host_timeout_s):
                        report = await self.scan_host(ip, seen)
                except TimeoutError:
                    report = merge(HostReport(ip), seen)
                progress.done += 1
                if report.open_ports or seen is not None:
                    progress.responsive += 1
                    await queue.put(report)
                if on_progress:
                    on_progress(progress)
            finally:
                sem.release()

        async def feed() -> None:
            async with asyncio.TaskGroup() as tg:
                for ip in addresses:
                    await sem.acquire()
                    tg.create_task(one(str(ip)))
            await queue.put(None)

        feeder = asyncio.create_task(feed())
        deadline = time.monotonic() + self.limits.deadline_s if self.limits.deadline_s else None
        try:
            while True:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    raise ScanDeadlineExceeded(progress) from None
                if item is None:
                    break
                yield item
        finally:
            if not feeder.done():
                feeder.cancel()
                try:
                    await feeder
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                    pass
            else:
                await feeder


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (~2x the connect rate here), else asyncio.

    Ctrl-C cancels the main task (so ``finally`` blocks run and the scan is
    marked interrupted) and then raises ``KeyboardInterrupt``.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


__all__ = [
    "DEFAULT_PER_HOST",
    "DEFAULT_RATE_PPS",
    "Engine",
    "Progress",
    "ScanDeadlineExceeded",
    "ScanLimits",
    "Status",
    "merge",
    "run",
]
