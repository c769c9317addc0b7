"""What counts as a change between two views of a device (pure)."""

from __future__ import annotations

from db.history import DeviceState, changes


def test_firmware_change_names_added_and_removed_capabilities() -> None:
    old = DeviceState("10.0.0.5", firmware="V5.5.0", capabilities=("line crossing", "motion detection"))
    new = DeviceState("10.0.0.5", firmware="V5.7.3", capabilities=("face detection", "motion detection"))
    [ch] = changes(old, new)
    assert ch.kind == "firmware"
    assert ch.summary == "firmware V5.5.0 → V5.7.3; new: face detection; removed: line crossing"
    assert ch.detail["capabilities_added"] == ["face detection"]


def test_a_scan_that_learns_less_erases_nothing() -> None:
    old = DeviceState("10.0.0.5", brand="Hikvision", firmware="V5.5.0", capabilities=("motion detection",))
    assert changes(old, DeviceState("10.0.0.5")) == []


def test_move_capabilities_and_identification() -> None:
    old = DeviceState("10.0.0.5", brand="LTS", capabilities=("a",))
    new = DeviceState("10.0.0.6", brand="Hikvision", capabilities=("a", "b"))
    kinds = [c.kind for c in changes(old, new)]
    assert kinds == ["moved", "capabilities", "identification"]
