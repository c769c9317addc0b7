"""Fleets as data: personalities (what a model of device says) and devices (where it runs)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fingerprints.errors import LabError

LAB_DIR = Path(__file__).parent
FLEETS_DIR = LAB_DIR / "fleets"
PERSONALITIES_FILE = LAB_DIR / "personalities.yaml"

#: Loopback block the lab hands out addresses from by default.
DEFAULT_NETWORK = "127.77.0.0/16"


@dataclass(frozen=True, slots=True)
class Personality:
    """How one kind of device behaves on the wire, and the truth about it."""

    id: str
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    category: str | None
    is_camera: bool
    services: dict[str, Any]
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One emulated device: a personality at an address with a MAC."""

    name: str
    personality: Personality
    ip: str
    mac: str


@dataclass(slots=True)
class Fleet:
    name: str
    devices: list[DeviceSpec] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return [d.ip for d in self.devices]


def load_personalities(path: Path = PERSONALITIES_FILE) -> dict[str, Personality]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"{path}: cannot be read: {exc}") from exc
    out: dict[str, Personality] = {}
    for raw in doc["personalities"]:
        truth = raw.get("truth", {})
        p = Personality(
            id=raw["id"],
            brand=truth.get("brand"),
            manufacturer=truth.get("manufacturer"),
            model=truth.get("model"),
            firmware=truth.get("firmware"),
            category=truth.get("category"),
            is_camera=bool(truth.get("is_camera", False)),
            services=raw.get("services", {}),
            sources=tuple(raw.get("sources", [])),
        )
        if p.id in out:
            raise LabError(f"{path}: personality {p.id!r} defined twice")
        out[p.id] = p
    return out


def _mac_for(prefix: str, n: int) -> str:
    octets = prefix.lower().replace("-", ":").split(":")
    tail = [(n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]
    return ":".join(octets[:3] + [f"{b:02x}" for b in tail])


def load_fleet(name_or_path: str, network: str = DEFAULT_NETWORK) -> Fleet:
    """Load ``fleets/<name>.yaml`` or a path; hand out loopback addresses in order."""
    path = Path(name_or_path)
    if not path.exists():
        path = FLEETS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in FLEETS_DIR.glob("*.yaml")))
        raise LabError(f"no fleet {name_or_path!r} (known fleets: {known}; or give a file path)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"{path}: cannot be read: {exc}") from exc
    personalities = load_personalities()
    net = ipaddress.ip_network(doc.get("network", network))
    if not net.is_loopback:
        raise LabError(f"{path}: lab network {net} is not loopback")
    hosts = net.hosts()
    next(hosts)  # skip .0.1 so the lab never shadows a well-known address
    fleet = Fleet(name=path.stem)
    n = 0
    for entry in doc["devices"]:
        pid = entry["personality"]
        if pid not in personalities:
            raise LabError(f"{path}: unknown personality {pid!r}")
        for i in range(int(entry.get("count", 1))):
            n += 1
            ip = str(entry["ip"]) if "ip" in entry and i == 0 else str(next(hosts))
            mac = _mac_for(entry.get("oui", "02:00:00"), n)
            fleet.devices.append(DeviceSpec(f"{pid}-{i + 1}", personalities[pid], ip, mac))
    return fleet
