"""Parse vendor firmware strings so they compare, sort and keep their build date.

Formats (fingerprint-facts C.1, C.2, E):

* Hikvision ``V5.5.0 build 170725``: (major.minor.patch, build YYMMDD); ISAPI
  splits the two (``V5.6.1`` + ``build 190603``), DVRs drop the space
  (``V3.4.88 build180228``).
* Dahua ``2.800.0000000.4.R, Build Date 2019-11-05`` (web UI: ``V2.840...``,
  ``Build Date: ...``): baseline.line.customisation.build.release; the third
  field marks OEM builds (Amcrest ``00AC000``, ``00AC006``), all zeros for
  Dahua's own general builds.
* Anything else with a dotted numeric core (Axis ``10.12.114``, Avigilon
  ``2.6.0.130``) compares by its numbers; the rest is kept verbatim.

Keys only compare within one scheme (a Hikvision key against a Dahua key is
meaningless), so :func:`sort_key` puts the scheme first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

#: Longest firmware string parsed; anything longer is kept raw but not parsed.
MAX_FIRMWARE_CHARS = 200

_HIK = re.compile(r"^V?(\d{1,3})\.(\d{1,3})\.(\d{1,4})(?:\s*,?\s*build\s*(\d{6}))?$", re.IGNORECASE)
_DAHUA = re.compile(
    r"^V?(\d)\.(\d{3})\.([0-9A-Z]{4,7})\.(\d{1,4})\.([A-Z])"
    r"(?:\s*,?\s*Build\s*Date\s*:?\s*(\d{4}-\d{2}-\d{2}))?$",
    re.IGNORECASE,
)
_DOTTED = re.compile(r"(\d+(?:\.\d+)+)")


@dataclass(frozen=True, slots=True)
class Firmware:
    raw: str
    scheme: str  # "hikvision", "dahua", "dotted" or "opaque"
    normalised: str
    key: tuple[int, ...] = ()
    build_date: dt.date | None = None
    oem_build: str | None = None

    def comparable(self, other: Firmware) -> bool:
        return self.scheme == other.scheme and self.scheme != "opaque"


def _yymmdd(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        return None


def _iso(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def parse_firmware(text: str, scheme_hint: str | None = None) -> Firmware:
    """Parse ``text``; ``scheme_hint`` ("hikvision"/"dahua") breaks ties for bare dotted strings."""
    raw = " ".join(text.split())[:MAX_FIRMWARE_CHARS]
    m = _DAHUA.match(raw)
    if m:
        major, line, custom, build, release, date = m.groups()
        custom = custom.upper()
        normalised = f"{major}.{line}.{custom}.{build}.{release.upper()}"
        bdate = _iso(date)
        key = (int(major), int(line), int(build), int(bdate.strftime("%Y%m%d")) if bdate else 0)
        oem = custom if custom.strip("0") else None
        return Firmware(raw, "dahua", normalised, key, bdate, oem)
    m = _HIK.match(raw)
    if m and (m.group(4) or scheme_hint == "hikvision" or raw[:1] in "vV"):
        major, minor, patch, build = m.groups()
        normalised = f"V{int(major)}.{int(minor)}.{int(patch)}" + (f" build {build}" if build else "")
        key = (int(major), int(minor), int(patch), int(build) if build else 0)
        return Firmware(raw, "hikvision", normalised, key, _yymmdd(build))
    m = _DOTTED.search(raw)
    if m:
        numbers = tuple(int(x) for x in m.group(1).split(".")[:8])
        return Firmware(raw, "dotted", m.group(1), numbers)
    return Firmware(raw, "opaque", raw)


def sort_key(fw: Firmware) -> tuple[str, tuple[int, ...], str]:
    """A total order: by scheme, then version numbers, then the raw text."""
    return (fw.scheme, fw.key, fw.raw)


def in_range(fw: Firmware, low: Firmware | None, high: Firmware | None) -> bool | None:
    """Whether ``low <= fw <= high``; ``None`` if the versions cannot be compared."""
    for bound in (low, high):
        if bound is not None and not fw.comparable(bound):
            return None
    if fw.scheme == "opaque":
        return None
    if low is not None and fw.key < low.key:
        return False
    return not (high is not None and fw.key > high.key)
