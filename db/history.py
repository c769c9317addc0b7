"""What changed between two views of one device: pure, so it is tested without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Fields whose change is an ``identification`` event.
IDENTIFICATION_FIELDS = ("brand", "manufacturer", "model", "category")


@dataclass(frozen=True, slots=True)
class DeviceState:
    ip: str | None = None
    brand: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    category: str | None = None
    capabilities: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    summary: str
    detail: dict[str, Any]


def _caps_text(added: list[str], removed: list[str]) -> str:
    parts = []
    if added:
        parts.append("new: " + ", ".join(added))
    if removed:
        parts.append("removed: " + ", ".join(removed))
    return "; ".join(parts)


def changes(old: DeviceState, new: DeviceState) -> list[Change]:
    """Events between ``old`` and ``new``.

    A field that ``new`` does not know (None, no capabilities) is not a change:
    a scan without credentials learns less, it does not erase what was known.
    """
    out: list[Change] = []
    if old.ip and new.ip and old.ip != new.ip:
        out.append(Change("moved", f"address {old.ip} → {new.ip}", {"from": old.ip, "to": new.ip}))
    added = sorted(set(new.capabilities) - set(old.capabilities)) if new.capabilities else []
    removed = sorted(set(old.capabilities) - set(new.capabilities)) if new.capabilities else []
    caps_known_before = bool(old.capabilities)
    if old.firmware and new.firmware and old.firmware != new.firmware:
        caps = _caps_text(added, removed) if caps_known_before else ""
        out.append(
            Change(
                "firmware",
                f"firmware {old.firmware} → {new.firmware}" + (f"; {caps}" if caps else ""),
                {
                    "from": old.firmware,
                    "to": new.firmware,
                    "capabilities_added": added if caps_known_before else [],
                    "capabilities_removed": removed if caps_known_before else [],
                },
            )
        )
    elif caps_known_before and (added or removed):
        out.append(
            Change(
                "capabilities",
                "capabilities changed; " + _caps_text(added, removed),
                {"added": added, "removed": removed},
            )
        )
    diffs = {
        f: [getattr(old, f), getattr(new, f)]
        for f in IDENTIFICATION_FIELDS
        if getattr(old, f) and getattr(new, f) and getattr(old, f) != getattr(new, f)
    }
    if diffs:
        text = ", ".join(f"{f} {a} → {b}" for f, (a, b) in diffs.items())
        out.append(Change("identification", f"identification changed: {text}", {"changes": diffs}))
    return out
