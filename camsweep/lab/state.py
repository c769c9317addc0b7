"""A running device's mutable state (firmware, capabilities) and the template values its answers use."""

from __future__ import annotations

import string
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from camsweep.lab.fleet import DeviceSpec


@dataclass(slots=True)
class DeviceState:
    """What a device currently is: a spec plus the firmware it runs now (``lab upgrade`` changes it)."""

    spec: DeviceSpec
    firmware: str | None = None
    capabilities: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    boot_time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.set_firmware(self.spec.firmware or self.spec.personality.firmware)

    def set_firmware(self, version: str | None) -> None:
        p = self.spec.personality
        if version is None:
            self.firmware, self.capabilities, self.extra = None, (), {}
            return
        info = p.firmware_info(version)
        self.firmware = info.version
        self.capabilities = info.capabilities
        self.extra = dict(info.values)

    @property
    def name(self) -> str:
        return self.spec.name

    def values(self) -> dict[str, str]:
        """Template values: ``${model}``, ``${firmware}``, ``${serial}``, ``${mac}``, ..."""
        s, p = self.spec, self.spec.personality
        fw = self.firmware or ""
        version, _, build = fw.partition(" build ")
        plain = s.mac.replace(":", "")
        return {
            "name": s.name,
            "ip": s.ip,
            "model": p.model or "",
            "brand": p.brand or "",
            "manufacturer": p.identity.get("onvif_manufacturer", p.manufacturer or ""),
            "firmware": fw,
            "fw_version": version,
            "fw_build": build,
            "serial": s.serial,
            "serial_tail": s.serial[-5:],
            "uuid": s.uuid,
            "mac": s.mac,
            "mac_plain": plain,
            "MAC": plain.upper(),
            "MAC_COLON": s.mac.upper(),
            "hardware_id": p.identity.get("hardware_id", "1.0"),
            "date": formatdate(usegmt=True),
            # asctime layout, as some embedded web servers write Date (nmap "Hikvision camera httpd").
            "asctime": time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime()),
            **{k: v for k, v in p.identity.items() if k != "serial"},
            **self.extra,
        }

    def render(self, text: Any) -> str:
        return string.Template(str(text)).safe_substitute(self.values())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ip": self.spec.ip,
            "mac": self.spec.mac,
            "personality": self.spec.personality.id,
            **self.spec.truth,
            "firmware": self.firmware,
            "capabilities": list(self.capabilities),
            "attached": [a.name for a in self.spec.attached],
        }
