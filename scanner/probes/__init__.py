"""Probe registry: one line per protocol module (STYLE.md §1)."""

from __future__ import annotations

from scanner.probes.base import Probe
from scanner.probes.http import HttpProbe
from scanner.probes.tcp import TcpConnectProbe

#: Probes that run on an open TCP port, in order.
SERVICE_PROBES: tuple[Probe, ...] = (HttpProbe(),)

PROBES_BY_NAME: dict[str, Probe] = {p.name: p for p in (TcpConnectProbe(), *SERVICE_PROBES)}
