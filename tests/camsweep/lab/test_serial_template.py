"""A personality whose serial is its MAC (Axis: ``serial: "${MAC}"``) gives each unit its own serial.

Found by the benchmark: every Axis unit of ``bench-1000`` answered the literal
serial ``${MAC}``, so the inventory merged 80 cameras into one device.
"""

from __future__ import annotations

from camsweep.lab import load_fleet


def test_mac_serials_are_filled_in_per_device() -> None:
    axis = [
        d for d in load_fleet("bench-1000", network="127.166.0.0/20").devices if d.name.startswith("axis-")
    ]
    assert len(axis) == 80
    assert all(d.serial == d.mac.replace(":", "").upper() for d in axis)
    assert len({d.serial for d in axis}) == 80
