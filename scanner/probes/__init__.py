"""Probe registry: one line per protocol module (STYLE.md §1).

Per-address probes run on open TCP ports (``tcp``, ``http``, ``rtsp``,
``onvif``) or as a directed UDP probe (``wsd``); the local-segment
discoveries (``wsd`` multicast, ``mdns``, ``arp``) run once per scan from
``scanner.discovery``.
"""

from __future__ import annotations

from scanner.credentials import OnvifCredentials
from scanner.probes.base import Probe
from scanner.probes.http import HttpProbe
from scanner.probes.onvif import OnvifProbe
from scanner.probes.rtsp import RtspProbe
from scanner.probes.tcp import TcpConnectProbe
from scanner.probes.wsd import WsdProbe


def default_service_probes(credentials: OnvifCredentials | None = None) -> tuple[Probe, ...]:
    """Probes that run on an open TCP port, in order; ONVIF gets the operator's credential if any."""
    return (HttpProbe(), RtspProbe(), OnvifProbe(credentials))


#: Probes that run on an open TCP port, without credentials.
SERVICE_PROBES: tuple[Probe, ...] = default_service_probes()

PROBES_BY_NAME: dict[str, Probe] = {p.name: p for p in (TcpConnectProbe(), *SERVICE_PROBES, WsdProbe())}
