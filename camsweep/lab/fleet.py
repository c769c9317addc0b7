"""Fleets as data: personalities (what a model of device says) and devices (where it runs).

``personalities.yaml`` describes each kind of device: the truth about it
(brand, real manufacturer, model, firmware, category, is_camera), the public
source of every banner it serves, its firmware versions with their capability
sets, and its services.  A fleet file (``fleets/<name>.yaml``) places
personalities at addresses with MACs from an OUI, credentials, and for
recorders the cameras attached to their PoE ports (which are not on the
network themselves).
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from fingerprints.errors import LabError

LAB_DIR = Path(__file__).parent
FLEETS_DIR = LAB_DIR / "fleets"
PERSONALITIES_FILE = LAB_DIR / "personalities.yaml"

#: Loopback block the lab hands out addresses from by default.
DEFAULT_NETWORK = "127.77.0.0/16"
#: Network of the namespaces in netns mode (exists only inside the lab's namespaces).
DEFAULT_NETNS_NETWORK = "10.80.0.0/24"
#: Credentials every device accepts unless its fleet entry says otherwise.
DEFAULT_CREDENTIALS = ("admin", "Lab-Pass-2024")
#: Address block the cameras behind a recorder's PoE ports use (Hikvision NVRs' internal PoE network).
ATTACHED_NETWORK = "192.168.254.0/24"


@dataclass(frozen=True, slots=True)
class Firmware:
    """One firmware version of a personality and what it can do."""

    version: str
    capabilities: tuple[str, ...] = ()
    #: Extra template values this firmware changes (e.g. a Server header version).
    values: tuple[tuple[str, str], ...] = ()


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
    #: Identity values used in answers (ONVIF Manufacturer, serial template, hardware id, ...).
    identity: dict[str, str] = field(default_factory=dict)
    firmwares: tuple[Firmware, ...] = ()
    hostile: bool = False

    def firmware_info(self, version: str) -> Firmware:
        for fw in self.firmwares:
            if fw.version == version:
                return fw
        known = ", ".join(f.version for f in self.firmwares) or "none"
        raise LabError(f"personality {self.id!r} has no firmware {version!r} (known: {known})")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One emulated device: a personality at an address with a MAC."""

    name: str
    personality: Personality
    ip: str
    mac: str
    serial: str = ""
    uuid: str = ""
    credentials: tuple[str, str] = DEFAULT_CREDENTIALS
    firmware: str | None = None
    #: Cameras on this recorder's PoE ports: listed by its API, not reachable on the network.
    attached: tuple[DeviceSpec, ...] = ()

    @property
    def truth(self) -> dict[str, Any]:
        p = self.personality
        return {
            "brand": p.brand,
            "manufacturer": p.manufacturer,
            "model": p.model,
            "firmware": self.firmware or p.firmware,
            "category": p.category,
            "is_camera": p.is_camera,
        }


@dataclass(slots=True)
class Fleet:
    name: str
    devices: list[DeviceSpec] = field(default_factory=list)
    network: str = DEFAULT_NETWORK
    mode: str = "loopback"

    @property
    def targets(self) -> list[str]:
        return [d.ip for d in self.devices]

    @property
    def attached(self) -> list[DeviceSpec]:
        return [cam for d in self.devices for cam in d.attached]

    def device(self, name: str) -> DeviceSpec:
        for d in self.devices:
            if d.name == name:
                return d
        raise LabError(f"fleet {self.name!r} has no device {name!r}")


def _firmwares(raw: dict[str, Any], default: str | None) -> tuple[Firmware, ...]:
    out: list[Firmware] = []
    for version, info in (raw.get("firmwares") or {}).items():
        info = info or {}
        out.append(
            Firmware(
                version=str(version),
                capabilities=tuple(info.get("capabilities", [])),
                values=tuple((str(k), str(v)) for k, v in (info.get("values") or {}).items()),
            )
        )
    if default and not any(f.version == default for f in out):
        out.insert(0, Firmware(version=default))
    return tuple(out)


@lru_cache(maxsize=4)
def load_personalities(path: Path = PERSONALITIES_FILE) -> dict[str, Personality]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"{path}: cannot be read: {exc}") from exc
    out: dict[str, Personality] = {}
    for raw in doc["personalities"]:
        truth = raw.get("truth", {})
        try:
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
                identity={str(k): str(v) for k, v in (raw.get("identity") or {}).items()},
                firmwares=_firmwares(raw, truth.get("firmware")),
                hostile=bool(raw.get("hostile", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise LabError(f"{path}: personality {raw.get('id', '?')!r} is malformed: {exc!r}") from exc
        if not p.sources:
            raise LabError(f"{path}: personality {p.id!r} cites no public source for its banners")
        if p.id in out:
            raise LabError(f"{path}: personality {p.id!r} defined twice")
        out[p.id] = p
    return out


def _mac_for(prefix: str, n: int) -> str:
    octets = prefix.lower().replace("-", ":").split(":")
    tail = [(n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]
    return ":".join(octets[:3] + [f"{b:02x}" for b in tail])


def _serial(p: Personality, n: int) -> str:
    template = p.identity.get("serial", "SN{seq}")
    return template.replace("{seq}", f"{n:08d}").replace("{model}", p.model or "")


def known_fleets() -> list[str]:
    return sorted(p.stem for p in FLEETS_DIR.glob("*.yaml"))


def _fleet_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    path = FLEETS_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise LabError(
            f"no fleet {name_or_path!r} (known fleets: {', '.join(known_fleets())}; or give a .yaml file path)"
        )
    return path


def _spread(net: ipaddress.IPv4Network | ipaddress.IPv6Network, count: int) -> list[str]:
    """``count`` addresses spread evenly over ``net`` (a sparse fleet, like a real site)."""
    size = net.num_addresses - 2
    if count > size:
        raise LabError(f"{count} devices do not fit in {net}")
    step = size / count
    base = int(net.network_address) + 1
    return [str(ipaddress.ip_address(base + int(i * step))) for i in range(count)]


def load_fleet(name_or_path: str, network: str | None = None, mode: str = "loopback") -> Fleet:
    """Load ``fleets/<name>.yaml`` or a path and hand out addresses in order.

    ``mode`` is ``loopback`` (addresses from a 127/8 network) or ``netns``
    (addresses from a private network that exists only in the lab's namespaces).
    """
    if mode not in ("loopback", "netns"):
        raise LabError(f"unknown lab mode {mode!r} (loopback or netns)")
    path = _fleet_path(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"{path}: cannot be read: {exc}") from exc
    personalities = load_personalities()
    default_net = DEFAULT_NETWORK if mode == "loopback" else DEFAULT_NETNS_NETWORK
    chosen = network or (doc.get("network") if mode == "loopback" else None) or default_net
    try:
        net = ipaddress.ip_network(chosen)
    except ValueError as exc:
        raise LabError(f"{path}: bad lab network {chosen!r}: {exc}") from exc
    if mode == "loopback" and not net.is_loopback:
        raise LabError(f"{path}: lab network {net} is not loopback")
    if mode == "netns" and not (net.is_private and not net.is_loopback):
        raise LabError(f"{path}: netns lab network {net} must be private (it exists only inside the lab)")
    entries = doc.get("devices") or []
    total = sum(int(e.get("count", 1)) for e in entries)
    if doc.get("spread") and mode == "loopback":
        addresses = iter(_spread(net, total))
    else:
        hosts = net.hosts()
        next(hosts)  # skip .0.1 so the lab never shadows a well-known address
        addresses = (str(h) for h in hosts)
    default_creds = tuple(doc.get("credentials", DEFAULT_CREDENTIALS))
    fleet = Fleet(name=path.stem, network=str(net), mode=mode)
    attached_hosts = ipaddress.ip_network(ATTACHED_NETWORK).hosts()
    next(attached_hosts)  # .1 is the recorder's own PoE-side address
    n = 0

    def make(entry: dict[str, Any], i: int, ip: str, name: str) -> DeviceSpec:
        nonlocal n
        pid = entry["personality"]
        if pid not in personalities:
            raise LabError(f"{path}: unknown personality {pid!r}")
        p = personalities[pid]
        n += 1
        creds = entry.get("credentials", default_creds)
        firmware = entry.get("firmware", p.firmware)
        if firmware is not None:
            p.firmware_info(str(firmware))
        attached: list[DeviceSpec] = []
        for sub in entry.get("attached", []):
            for j in range(int(sub.get("count", 1))):
                attached.append(make(sub, j, str(next(attached_hosts)), f"{name}-ch{len(attached) + 1}"))
        mac = _mac_for(entry.get("oui", "02:00:00"), n)
        return DeviceSpec(
            name=name,
            personality=p,
            ip=ip,
            mac=mac,
            # Axis serials are the MAC (``serial: "${MAC}"``): fill it in, or every unit shares one.
            serial=_serial(p, n).replace("${MAC}", mac.replace(":", "").upper()),
            uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"camsweep-lab:{path.stem}:{name}")),
            credentials=(str(creds[0]), str(creds[1])),
            firmware=str(firmware) if firmware is not None else None,
            attached=tuple(attached),
        )

    try:
        for entry in entries:
            pid = entry["personality"]
            for i in range(int(entry.get("count", 1))):
                ip = str(entry["ip"]) if "ip" in entry and i == 0 and mode == "loopback" else next(addresses)
                fleet.devices.append(make(entry, i, ip, f"{entry.get('name', pid)}-{i + 1}"))
    except StopIteration:
        raise LabError(f"{path}: {total} devices do not fit in {net}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise LabError(f"{path}: malformed device entry: {exc!r}") from exc
    names = [d.name for d in fleet.devices]
    if len(set(names)) != len(names):
        raise LabError(f"{path}: device names repeat; give entries distinct `name`s")
    return fleet
