"""Memory and rate of a sweep over a loopback /16 with a handful of live hosts.

    python bench/scan_memory.py                      # 127.90.0.0/16, 6 listeners, one port
    python bench/scan_memory.py --cidr 127.91.0.0/20 --no-uvloop

Prints, for the sweep: addresses, live hosts found, seconds, addresses/s, the
peak Python heap (tracemalloc, only with --tracemalloc: it slows the sweep)
and the process's maximum resident set (ru_maxrss) before and after, so the
growth per address can be read off.  Loopback only; listeners bind inside the
CIDR given (the scanner helper's block is 127.90-99.x.x).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import resource
import socket
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.engine import Engine, ScanLimits
from scanner.progress import Progress
from scanner.targets import Scope, iter_addresses, parse_targets


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def sweep(cidr: str, live: int, use_tracemalloc: bool) -> dict[str, float]:
    net = ipaddress.ip_network(cidr)
    hosts = [str(net[1 + i * (net.num_addresses // (live + 1))]) for i in range(live)]
    s = socket.socket()
    s.bind((hosts[0], 0))
    port = s.getsockname()[1]
    s.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    servers = [await asyncio.start_server(handle, h, port) for h in hosts]
    engine = Engine(
        ports=[port], limits=ScanLimits(rate_pps=0, concurrency=512), service_probes=[], directed_wsd=False
    )
    progress = Progress(total=net.num_addresses)
    rss_before = maxrss_mib()
    if use_tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    found = [
        r.ip
        async for r in engine.scan(
            iter_addresses(parse_targets([cidr]), Scope(max_addresses=1 << 24)), progress
        )
    ]
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if use_tracemalloc else float("nan")
    for srv in servers:
        srv.close()
    return {
        "addresses": progress.done,
        "found": len(found),
        "live": live,
        "seconds": elapsed,
        "rate": progress.done / elapsed,
        "heap_peak_mib": peak,
        "rss_before_mib": rss_before,
        "rss_after_mib": maxrss_mib(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cidr", default="127.90.0.0/16")
    ap.add_argument("--live", type=int, default=6)
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args()
    coro = sweep(args.cidr, args.live, args.tracemalloc)
    if args.no_uvloop:
        res = asyncio.run(coro)
        loop = "asyncio"
    else:
        from scanner.engine import run

        res = run(coro)
        loop = "uvloop (if installed)"
    print(f"command: python bench/scan_memory.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"loop: {loop}; cidr {args.cidr}; one TCP port; concurrency 512; no rate limit")
    for k, v in res.items():
        print(f"{k:>16}: {v:,.1f}")


if __name__ == "__main__":
    main()
