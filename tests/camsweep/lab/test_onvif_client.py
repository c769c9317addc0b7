"""The real ONVIF client library accepts the lab's documents (onvif-zeep-async, WS-UsernameToken digest)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from camsweep.lab import Lab, load_fleet

ONVIF_CALL_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    fleet = load_fleet("mixed", network=f"127.84.{uuid.uuid4().int % 200 + 20}.0/24")
    with Lab(fleet) as running:
        yield running


async def _device_information(ip: str, port: int, user: str, password: str) -> tuple[object, object, object]:
    from onvif import ONVIFCamera

    cam = ONVIFCamera(ip, port, user, password)
    try:
        devicemgmt = await cam.create_devicemgmt_service()
        info = await devicemgmt.GetDeviceInformation()
        services = await devicemgmt.GetServices({"IncludeCapability": False})
        caps = await devicemgmt.GetCapabilities({"Category": "All"})
        return info, services, caps
    finally:
        await cam.close()


async def test_onvif_zeep_async_reads_device_information(lab: Lab) -> None:
    d = next(x for x in lab.fleet.devices if x.personality.id == "hikvision-ds2cd-fixed")
    info, services, caps = await asyncio.wait_for(
        _device_information(d.ip, 80, *d.credentials), ONVIF_CALL_TIMEOUT_S
    )
    assert info.Manufacturer == "HIKVISION"  # type: ignore[attr-defined]
    assert info.Model == "DS-2CD2143G2-I"  # type: ignore[attr-defined]
    assert info.FirmwareVersion == "V5.7.3 build 220112"  # type: ignore[attr-defined]
    assert info.SerialNumber == d.serial  # type: ignore[attr-defined]
    namespaces = {s.Namespace for s in services}  # type: ignore[attr-defined]
    assert "http://www.onvif.org/ver20/media/wsdl" in namespaces
    assert caps.Media.XAddr.startswith(f"http://{d.ip}/")  # type: ignore[attr-defined]


async def test_onvif_zeep_async_with_wrong_password_is_refused(lab: Lab) -> None:
    from zeep.exceptions import Fault

    d = next(x for x in lab.fleet.devices if x.personality.id == "dahua-ipc")
    with pytest.raises(Fault, match="not Authorized") as caught:
        await asyncio.wait_for(_device_information(d.ip, 80, d.credentials[0], "wrong"), ONVIF_CALL_TIMEOUT_S)
    assert caught.value.subcodes and caught.value.subcodes[0].localname == "NotAuthorized"
