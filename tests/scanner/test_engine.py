"""The engine: discovery merge, deadline, progress, and flat memory over a loopback /16 slice.

Memory is a bound, not a timing: the engine must not keep per-address state
for silent addresses, so sweeping 16x more silent addresses must not need
anywhere near 16x the memory.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from fingerprints.evidence import HostReport, Observation, Status
from scanner.engine import Engine, ScanDeadlineExceeded, ScanLimits
from scanner.progress import PlainReporter, Progress, describe
from scanner.targets import Scope, iter_addresses, parse_targets

LIVE = [f"127.90.200.{i}" for i in (1, 2, 3, 50, 201)]


@pytest.fixture
async def listeners() -> AsyncIterator[int]:
    """A handful of listeners on one port in our loopback block."""
    probe = socket.socket()
    probe.bind((LIVE[0], 0))
    port = probe.getsockname()[1]
    probe.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    servers = [await asyncio.start_server(handle, ip, port) for ip in LIVE]
    try:
        yield port
    finally:
        for s in servers:
            s.close()
            await s.wait_closed()


def _addresses(cidr: str):  # type: ignore[no-untyped-def]
    return iter_addresses(parse_targets([cidr]), Scope(max_addresses=1 << 20))


async def _sweep(cidr: str, port: int) -> tuple[list[HostReport], Progress, int]:
    engine = Engine(
        ports=[port], limits=ScanLimits(rate_pps=0, concurrency=256), service_probes=[], directed_wsd=False
    )
    total = ipaddress.ip_network(cidr).num_addresses
    progress = Progress(total=total)
    tracemalloc.start()
    tracemalloc.reset_peak()
    reports = [r async for r in engine.scan(_addresses(cidr), progress)]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return reports, progress, peak


async def test_memory_stays_flat_over_many_silent_addresses(listeners: int) -> None:
    small, p_small, peak_small = await _sweep("127.90.200.0/23", listeners)
    big, p_big, peak_big = await _sweep("127.90.192.0/19", listeners)
    assert sorted(r.ip for r in small) == sorted(LIVE) and sorted(r.ip for r in big) == sorted(LIVE)
    assert p_small.done == 512 and p_big.done == 8192 and p_big.responsive == len(LIVE)
    # 16x the addresses; per-address state would mean ~16x the memory.  A generous bound:
    assert peak_big < 4 * peak_small + 2 * 1024 * 1024, (peak_small, peak_big)


async def test_discovery_findings_merge_and_discovery_only_hosts_are_reported(listeners: int) -> None:
    found = HostReport("127.90.200.9", mac="c0:56:e3:00:00:09")
    found.observations.append(Observation("wsd", "127.90.200.9", 3702, Status.SUCCESS))
    found.observations[0].add("wsd.endpoint", "urn:uuid:1")
    found_live = HostReport(LIVE[0], mac="c0:56:e3:00:00:01")
    engine = Engine(ports=[listeners], limits=ScanLimits(rate_pps=0), service_probes=[], directed_wsd=False)
    discovered = {"127.90.200.9": found, LIVE[0]: found_live}
    reports = {r.ip: r async for r in engine.scan(_addresses("127.90.200.0/28"), discovered=discovered)}
    assert set(reports) == {"127.90.200.9", LIVE[0], LIVE[1], LIVE[2]}
    assert reports["127.90.200.9"].open_ports == [] and reports["127.90.200.9"].mac == "c0:56:e3:00:00:09"
    assert reports[LIVE[0]].mac == "c0:56:e3:00:00:01" and reports[LIVE[0]].open_ports == [listeners]
    assert discovered == {}  # consumed: nothing kept per address after it is reported


async def test_deadline_stops_the_scan_and_says_how_far() -> None:
    # 10 new connections a second over 4,096 addresses cannot finish within the 0.3 s deadline.
    engine = Engine(
        ports=[9], limits=ScanLimits(rate_pps=10, deadline_s=0.3), service_probes=[], directed_wsd=False
    )
    progress = Progress(total=4096)
    with pytest.raises(ScanDeadlineExceeded) as exc:
        async for _ in engine.scan(_addresses("127.90.210.0/20"), progress):
            pass
    assert exc.value.progress.done < 4096
    assert "deadline" in str(exc.value)


def test_progress_rate_eta_and_plain_reporter() -> None:
    import io

    p = Progress(total=100, done=25, responsive=3, started=1000.0)
    assert p.rate(now=1010.0) == 2.5
    assert p.eta_s(now=1010.0) == 30.0
    assert Progress(total=10).eta_s() is None
    out = io.StringIO()
    reporter = PlainReporter(out, interval_s=3600)
    reporter.update(p)
    reporter.update(p)  # within the interval: not repeated
    reporter.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("25/100 addresses, 3 devices,")
    assert "ETA" in describe(p)


def test_rich_reporter_shows_done_total_devices_rate() -> None:
    import io

    from rich.console import Console

    from scanner.progress import RichReporter

    buf = io.StringIO()
    reporter = RichReporter(Console(file=buf, force_terminal=True, width=120))
    reporter.update(Progress(total=200, done=50, responsive=7, started=1.0))
    reporter.bar.refresh()
    reporter.close()
    text = buf.getvalue()
    assert "50/200" in text and "7 devices" in text
