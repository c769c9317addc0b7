"""Issue 5's "done when", end to end: a real scan of the whole demo fleet (every camera
personality, every decoy) with the operator's ONVIF credential, compared with the truth
each personality declares.  Lab, scanner, matcher and inventory are all the real ones."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

import pytest

from camsweep import api
from camsweep.lab import Lab, load_fleet
from scanner.credentials import OnvifCredentials, Secret

#: What a personality's device does not put on the wire in loopback mode, and why.
#: Anything not listed here must come out exactly as the truth says.
NOT_EXPOSED: dict[str, tuple[set[str], str]] = {
    "ezviz-consumer": (
        {"brand", "model", "firmware"},
        "no ONVIF and no published banner names EZVIZ: only Hikvision's web server shows",
    ),
    "imou-dahua-consumer": (
        {"brand", "model", "firmware"},
        "no ONVIF; the Dahua web server does not name the consumer brand",
    ),
    "interlogix-truvision": ({"model", "firmware"}, "nmap's Interlogix-Webs banner carries no model"),
    "genetec-sharpv-anpr": ({"firmware"}, "the SharpV web page shows no firmware without a login"),
    "axon-dock": (
        {"is_camera", "brand", "manufacturer", "model", "firmware"},
        "recognised only by its MAC OUI, and loopback carries no MAC (namespace mode does)",
    ),
}

FIELDS = ("is_camera", "brand", "manufacturer", "model", "firmware")


@pytest.fixture(scope="module")
def scanned() -> Iterator[tuple[Lab, dict[str, object]]]:
    fleet = load_fleet("demo", network=f"127.76.{uuid.uuid4().int % 200 + 1}.0/24")
    user, password = fleet.devices[0].credentials
    with Lab(fleet) as lab:
        request = api.ScanRequest(
            targets=fleet.targets, site="e2e", credentials=OnvifCredentials(user, Secret(password))
        )
        with tempfile.TemporaryDirectory() as tmp:
            outcome = api.scan(request, f"sqlite:///{tmp}/e2e.db")
    yield lab, {report.ip: ident for report, ident in outcome.devices}


def test_every_personality_is_identified_as_its_truth_says(scanned: tuple[Lab, dict[str, object]]) -> None:
    lab, found = scanned
    wrong = []
    for device in lab.fleet.devices:
        ident = found.get(device.ip)
        assert ident is not None, f"{device.name} ({device.ip}) was not found at all"
        skip = NOT_EXPOSED.get(device.personality.id, (set(), ""))[0]
        for field in FIELDS:
            if field in skip:
                continue
            want, got = device.truth[field], getattr(ident, field)
            if field != "is_camera" and want is None:
                continue
            if want != got:
                wrong.append(f"{device.name}: {field} is {got!r}, truth {want!r}")
    assert wrong == []


def test_no_decoy_is_called_a_camera(scanned: tuple[Lab, dict[str, object]]) -> None:
    lab, found = scanned
    decoys = [d for d in lab.fleet.devices if not d.personality.is_camera]
    assert len(decoys) >= 5
    assert [d.name for d in decoys if found[d.ip].is_camera] == []


def test_rebadged_units_name_their_real_maker(scanned: tuple[Lab, dict[str, object]]) -> None:
    lab, found = scanned
    makers = {d.personality.brand: found[d.ip].manufacturer for d in lab.fleet.devices}
    assert makers["LTS"] == makers["Annke"] == "Hikvision"
    assert makers["Amcrest"] == makers["Lorex"] == "Dahua"
