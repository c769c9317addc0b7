"""The batching writer: commits by count and by age, and keeps the heartbeat fresh."""

from __future__ import annotations

from pathlib import Path

from db.repository import Inventory
from db.writer import ScanWriter
from tests.db.helpers import plain_host


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_batches_by_count_and_by_age(tmp_path: Path) -> None:
    inv = Inventory(f"sqlite:///{tmp_path}/inv.db")
    scan = inv.begin_scan(["10.0.0.0/24"])
    clock = Clock()
    writer = ScanWriter(inv, scan, batch_hosts=3, max_delay_s=5, heartbeat_s=60, clock=clock)
    for i in range(4):
        writer.add(*plain_host(f"10.0.0.{i + 1}"), done=i + 1)
    assert (writer.batches, writer.written, len(inv.devices())) == (1, 3, 3)  # the 4th waits
    clock.now = 6
    writer.tick(done=10)  # the waiting host is now overdue
    assert (writer.batches, len(inv.devices())) == (2, 4)
    before = inv.get_scan(scan)
    assert before.addresses_done == 10
    clock.now = 100
    writer.tick(done=200)  # nothing pending: only the heartbeat and progress
    assert inv.get_scan(scan).addresses_done == 200
    writer.close()
    assert writer.batches == 2
    inv.close()
