"""A scan-writing process for the concurrency tests: ``python writer_proc.py URL TAG HOSTS [hang]``.

Writes HOSTS hosts (two observations each) through the batching writer; hosts
0-49 share their MACs with every other process, the rest are its own.  With
``hang`` it commits what it has, queues a few more hosts, prints READY and waits
to be killed.
"""

from __future__ import annotations

import sys
import time

from db.repository import Inventory
from db.writer import ScanWriter
from tests.db.helpers import camera

SHARED = 50


def main() -> None:
    url, tag, hosts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    hang = len(sys.argv) > 4
    inv = Inventory(url)
    scan_id = inv.begin_scan([f"10.{tag}.0.0/16"], site="hq", total=hosts)
    writer = ScanWriter(inv, scan_id, batch_hosts=10, max_delay_s=3600)
    for i in range(hosts):
        mac_n = i if i < SHARED else tag * 100_000 + i
        mac = "02:00:" + ":".join(f"{(mac_n >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))
        ip = f"10.{tag}.{i // 256}.{i % 256}"
        writer.add(*camera(ip, "V5.5.0", ("motion detection",), mac=mac, serial=f"SN{mac_n}"))
    if hang:
        writer.flush()
        for i in range(5):  # queued, never committed: lost with the process, by design
            writer.add(
                *camera(f"10.{tag}.200.{i}", "V5.5.0", (), mac=f"02:ff:00:00:00:{i:02x}", serial=f"Q{i}")
            )
        print("READY", scan_id, flush=True)
        time.sleep(600)
    writer.close()
    inv.finish_scan(scan_id, "completed", done=hosts)
    inv.close()
    print("DONE", scan_id, writer.batches, flush=True)


if __name__ == "__main__":
    main()
