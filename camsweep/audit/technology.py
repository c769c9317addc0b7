"""What the audit needs to know about a device: survey technology, maker, concern, firmware age.

The audit reads devices through :class:`AuditDevice` (``db.repository.DeviceRecord``
satisfies it).  Two newer, optional fields are read when a device carries them:
``placement`` (``internal``/``external``, from an annotation) and
``dpia_reference``; the integrator wires them from the inventory's annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from fingerprints.manufacturers import ManufacturerList, vocab_key

#: Category (normalised: lower case, words joined by ``-``) -> survey technology.
#: ``cctv`` is split into internal/external by placement.
CATEGORY_TECHNOLOGY: dict[str, str] = {
    **dict.fromkeys(
        (
            "camera",
            "ip-camera",
            "fixed",
            "fixed-camera",
            "dome",
            "dome-camera",
            "ptz",
            "ptz-camera",
            "bullet",
            "turret",
            "box-camera",
            "fisheye",
            "panoramic",
            "multisensor",
            "thermal",
            "thermal-camera",
        ),
        "cctv",
    ),
    **dict.fromkeys(
        ("nvr", "dvr", "nvr-dvr", "recorder", "video-recorder", "encoder", "video-encoder"), "cctv"
    ),
    **dict.fromkeys(("anpr", "anpr-camera", "lpr", "lpr-camera"), "anpr"),
    **dict.fromkeys(
        ("body-worn", "body-worn-camera", "body-worn-dock", "bwv", "bwv-dock", "body-worn-video"),
        "body_worn_video",
    ),
    **dict.fromkeys(("drone", "drone-dock", "uav", "uas"), "drones"),
    **dict.fromkeys(("helicopter-camera", "helicopter", "airborne-camera"), "helicopter_cameras"),
    **dict.fromkeys(("facial-recognition", "face-recognition", "lfr"), "facial_recognition"),
}
#: Categories that are recorders or encoders: their maker counts, but they are not cameras in counts.
RECORDER_CATEGORIES = frozenset(
    {"nvr", "dvr", "nvr-dvr", "recorder", "video-recorder", "encoder", "video-encoder"}
)

NETWORKED_STATES = ("networked", "recorder-attached", "conflict")
STANDALONE_STATES = ("standalone",)


class AuditDevice(Protocol):
    """The device fields the audit reads (``DeviceRecord`` has them all)."""

    @property
    def id(self) -> int: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def mac(self) -> str | None: ...
    @property
    def serial(self) -> str | None: ...
    @property
    def brand(self) -> str | None: ...
    @property
    def manufacturer(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def firmware(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def connectivity(self) -> str: ...
    @property
    def policy_flags(self) -> list[str]: ...
    @property
    def site(self) -> str: ...
    @property
    def is_camera(self) -> bool: ...
    @property
    def last_seen(self) -> datetime | None: ...


def normalise_category(category: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (category or "").lower()).strip("-")


def technology_of(d: AuditDevice) -> str | None:
    """``cctv``, ``anpr``, ... or ``other`` for an unclassified camera; None if not surveillance kit."""
    tech = CATEGORY_TECHNOLOGY.get(normalise_category(d.category))
    if tech:
        return tech
    return "other" if d.is_camera else None


def is_recorder(d: AuditDevice) -> bool:
    return normalise_category(d.category) in RECORDER_CATEGORIES


def placement_of(d: AuditDevice, site_placement: dict[str, str]) -> str | None:
    """``internal``/``external`` from the device's annotation, else its site's, else None."""
    own = getattr(d, "placement", None)
    if own in ("internal", "external"):
        return str(own)
    return site_placement.get(d.site)


def maker_of(d: AuditDevice) -> str | None:
    """The real maker (an Annke unit is Hikvision-made); the brand only if the maker is unknown."""
    return d.manufacturer or d.brand


def claim_covers(claimed: Iterable[str], d: AuditDevice) -> bool:
    """Does a claimed vendor name cover this device (its maker or the brand on the box)?"""
    keys = {vocab_key(c) for c in claimed}
    return any(name and vocab_key(name) in keys for name in (d.manufacturer, d.brand))


def concern_flags(d: AuditDevice, manufacturers: ManufacturerList) -> tuple[str, ...]:
    """Policy flags of the device, else of its real maker (so rebrands inherit the maker's flags)."""
    flags = list(d.policy_flags)
    for flag in manufacturers.policy_flags(d.manufacturer):
        if flag not in flags:
            flags.append(flag)
    return tuple(flags)


def policy_data_present(manufacturers: ManufacturerList, devices: Sequence[AuditDevice]) -> bool:
    """False when no maker and no device carries any policy flag: a "no concern vendors" answer cannot be checked."""
    return any(m.policy_flags for m in manufacturers.makers.values()) or any(d.policy_flags for d in devices)


def firmware_key(firmware: str | None) -> tuple[int, ...] | None:
    """A comparable key: the numbers of a version string (``V5.7.3 build 220112`` -> (5, 7, 3, 220112))."""
    if not firmware:
        return None
    numbers = re.findall(r"\d+", firmware)
    return tuple(int(n[:18]) for n in numbers[:12]) or None


def model_key(manufacturer: str | None, model: str | None) -> str | None:
    if not model:
        return None
    return f"{vocab_key(manufacturer or '')}/{vocab_key(model)}"
