"""Credentialed ONVIF clients started together parse each WSDL once (bench/run.py found a stampede).

onvif-zeep-async caches parsed WSDL documents, but clients that start at the
same moment all miss the cache and each parse it again in a thread.  The
probe lets its first client build the device-management service alone.
Real lab cameras, real onvif-zeep-async; the parse count is read by wrapping
(not replacing) the library's loader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from camsweep.lab import Lab, load_fleet
from scanner.credentials import OnvifCredentials, Secret
from scanner.probes.base import ProbeResult, Status, Target
from scanner.probes.onvif import OnvifProbe


@pytest.fixture
def mini_lab() -> Iterator[Lab]:
    with Lab(load_fleet("mini", network="127.164.7.0/29")) as lab:
        yield lab


def test_concurrent_clients_parse_the_device_wsdl_once(
    mini_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onvif.client as oc

    monkeypatch.setattr(oc, "_DOCUMENT_CACHE", {})
    loads: list[str] = []
    original = oc.DocumentWithDeferredLoad.original_load

    def counting(self: Any, url: str) -> Any:
        loads.append(url)
        return original(self, url)

    monkeypatch.setattr(oc.DocumentWithDeferredLoad, "original_load", counting)
    cameras = [d for d in mini_lab.fleet.devices if d.personality.is_camera]
    probe = OnvifProbe(OnvifCredentials("admin", Secret("Lab-Pass-2024")))

    async def one(ip: str) -> ProbeResult:
        result = ProbeResult("onvif", ip, 80, Status.ERROR)
        await probe.run_zeep(Target(ip, 80), result)
        return result

    async def main() -> list[ProbeResult]:
        return await asyncio.gather(*(one(cameras[i % len(cameras)].ip) for i in range(8)))

    results = asyncio.run(main())
    assert all(r.status is Status.SUCCESS for r in results), [r.detail for r in results]
    assert all(
        ("onvif.model", cameras[0].personality.model) in [(e.key, e.value) for e in r.evidence]
        for r in results
    )
    device_wsdl_loads = [u for u in loads if u.endswith("devicemgmt.wsdl")]
    assert len(device_wsdl_loads) == 1, loads
