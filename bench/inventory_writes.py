"""How fast the batching writer records hosts: ``python bench/inventory_writes.py [URL] [HOSTS]``.

Default: a throwaway SQLite file and 2,000 hosts (two observations each), the
first pass creating devices, the second updating them (a rescan).  Prints
hosts per second for each pass and for batch sizes 1 and 50.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db.repository import Inventory
from db.writer import ScanWriter
from tests.db.helpers import camera


def run(url: str, hosts: int, batch: int) -> tuple[float, float]:
    inv = Inventory(url)
    rates = []
    for _ in range(2):
        scan = inv.begin_scan(["10.0.0.0/16"], site=f"bench-{batch}", total=hosts)
        writer = ScanWriter(inv, scan, batch_hosts=batch, max_delay_s=3600)
        start = time.perf_counter()
        for i in range(hosts):
            mac = f"02:42:00:00:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
            writer.add(
                *camera(f"10.0.{i >> 8}.{i & 0xFF}", "V5.5.0", ("motion detection",), mac=mac, serial=f"S{i}")
            )
        writer.close()
        inv.finish_scan(scan)
        rates.append(hosts / (time.perf_counter() - start))
    inv.close()
    return rates[0], rates[1]


def main() -> None:
    tmp = tempfile.mkdtemp()
    url = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else f"sqlite:///{tmp}/bench.db"
    hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    for batch in (1, 50):
        first, rescan = run(url, hosts, batch)
        print(
            f"{url.split(':')[0]:<20} batch {batch:>3}: new {first:8.0f} hosts/s   rescan {rescan:8.0f} hosts/s"
        )


if __name__ == "__main__":
    main()
