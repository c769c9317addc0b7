"""The async scan engine: bounded concurrency, rate limit, deadlines.

Addresses are pulled lazily from the target iterator, so memory stays flat
however large the target.  Per address: TCP connect on the port set, then
each service probe on the open ports it applies to.  Cameras are fragile, so
concurrency per host is low by default and new connections are rate limited
globally.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

from fingerprints.evidence import HostReport, Status
from scanner.probes import SERVICE_PROBES
from scanner.probes.base import Probe, ProbeContext, Target
from scanner.probes.tcp import CAMERA_PORTS, TcpConnectProbe
from scanner.targets import IPAddress

#: Default global rate of new connections: gentle enough for fragile cameras.
DEFAULT_RATE_PPS = 500.0


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """How gently to scan.  Every wait has a named timeout."""

    concurrency: int = 256  # addresses in flight at once
    per_host_concurrency: int = 2  # connections to one address at once
    rate_pps: float = DEFAULT_RATE_PPS  # new connections per second, globally
    connect_timeout_s: float = 1.5
    read_timeout_s: float = 3.0
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


@dataclass(slots=True)
class Progress:
    """Counts the reporter shows: addresses done/total, devices found."""

    total: int
    done: int = 0
    responsive: int = 0
    started: float = 0.0


ProgressCallback = Callable[[Progress], None]


class Engine:
    """Runs probes over addresses with the limits given."""

    def __init__(
        self,
        ports: Sequence[int] = CAMERA_PORTS,
        limits: ScanLimits | None = None,
        service_probes: Sequence[Probe] = SERVICE_PROBES,
        probe_ports: dict[str, Sequence[int]] | None = None,
    ) -> None:
        """``probe_ports`` overrides, per probe name, which open ports it runs on."""
        self.ports = tuple(ports)
        self.limits = limits or ScanLimits()
        self.service_probes = tuple(service_probes)
        overrides = probe_ports or {}
        self.probe_ports = {p.name: frozenset(overrides.get(p.name, p.ports)) for p in self.service_probes}
        self.rate = RateLimiter(self.limits.rate_pps)
        self.tcp = TcpConnectProbe()

    async def _open(
        self, host: str, port: int, timeout_s: float
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await self.rate.acquire()
        return await asyncio.wait_for(asyncio.open_connection(host, port, limit=64 * 1024), timeout_s)

    def context(self) -> ProbeContext:
        return ProbeContext(
            open_connection=self._open,
            connect_timeout_s=self.limits.connect_timeout_s,
            read_timeout_s=self.limits.read_timeout_s,
        )

    async def scan_host(self, ip: str) -> HostReport:
        """Connect to every port, then run service probes on the open ones."""
        report = HostReport(ip)
        ctx = self.context()
        host_sem = asyncio.Semaphore(self.limits.per_host_concurrency)

        async def guarded(probe: Probe, port: int) -> None:
            async with host_sem:
                report.observations.append(await probe.run(Target(ip, port), ctx))

        async with asyncio.TaskGroup() as tg:
            for port in self.ports:
                tg.create_task(guarded(self.tcp, port))
        open_ports = report.open_ports
        async with asyncio.TaskGroup() as tg:
            for probe in self.service_probes:
                for port in open_ports:
                    if port in self.probe_ports[probe.name]:
                        tg.create_task(guarded(probe, port))
        return report

    async def scan(
        self,
        addresses: Iterator[IPAddress],
        progress: Progress | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncIterator[HostReport]:
        """Yield a report for every address with at least one open port."""
        progress = progress or Progress(total=0)
        progress.started = time.monotonic()
        queue: asyncio.Queue[HostReport | None] = asyncio.Queue(maxsize=self.limits.concurrency)
        sem = asyncio.Semaphore(self.limits.concurrency)

        async def one(ip: str) -> None:
            try:
                try:
                    report = await asyncio.wait_for(self.scan_host(ip), self.limits.host_timeout_s)
                except TimeoutError:
                    report = HostReport(ip)
                progress.done += 1
                if report.open_ports:
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


class ScanDeadlineExceeded(Exception):
    """The whole-scan deadline passed; ``progress`` says how far it got."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(f"scan deadline reached after {progress.done}/{progress.total} addresses")
        self.progress = progress


__all__ = ["Engine", "Progress", "ScanDeadlineExceeded", "ScanLimits", "Status"]
