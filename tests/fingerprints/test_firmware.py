"""Firmware strings parse, normalise, keep their build date and sort."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fingerprints.firmware import in_range, parse_firmware, sort_key


@pytest.mark.parametrize(
    ("raw", "scheme", "normalised", "build_date", "oem"),
    [
        # fingerprint-facts C.1 (Hikvision) and C.2 (Dahua) [C] formats
        ("V5.5.0 build 170725", "hikvision", "V5.5.0 build 170725", dt.date(2017, 7, 25), None),
        ("V3.4.88 build180228", "hikvision", "V3.4.88 build 180228", dt.date(2018, 2, 28), None),
        ("V4.61.000 build 220128", "hikvision", "V4.61.0 build 220128", dt.date(2022, 1, 28), None),
        (
            "2.800.0000000.4.R, Build Date 2019-11-05",
            "dahua",
            "2.800.0000000.4.R",
            dt.date(2019, 11, 5),
            None,
        ),
        (
            "V2.840.0000000.30.R, Build Date: 2025-02-27",
            "dahua",
            "2.840.0000000.30.R",
            dt.date(2025, 2, 27),
            None,
        ),
        (
            "V2.620.00AC000.3.R, Build Date: 2019-12-18",
            "dahua",
            "2.620.00AC000.3.R",
            dt.date(2019, 12, 18),
            "00AC000",
        ),
        ("2.460.0001.5.R, Build Date 2017-08-11", "dahua", "2.460.0001.5.R", dt.date(2017, 8, 11), "0001"),
        ("2.6.0.130", "dotted", "2.6.0.130", None, None),
        ("unknown", "opaque", "unknown", None, None),
    ],
)
def test_parse(raw: str, scheme: str, normalised: str, build_date: dt.date | None, oem: str | None) -> None:
    fw = parse_firmware(raw)
    assert (fw.scheme, fw.normalised, fw.build_date, fw.oem_build) == (scheme, normalised, build_date, oem)


def test_hikvision_versions_sort_by_version_then_build() -> None:
    raws = ["V5.5.0 build 170725", "V5.4.0 build 160530", "V5.5.0 build 170101", "V5.10.0 build 200101"]
    got = [f.raw for f in sorted(map(parse_firmware, raws), key=sort_key)]
    assert got == [
        "V5.4.0 build 160530",
        "V5.5.0 build 170101",
        "V5.5.0 build 170725",
        "V5.10.0 build 200101",
    ]


def test_dahua_versions_sort_by_baseline_build_then_date() -> None:
    raws = [
        "2.800.0000000.4.R, Build Date 2019-11-05",
        "2.460.0001.5.R, Build Date 2017-08-11",
        "V2.840.0000000.30.R",
    ]
    got = [f.normalised for f in sorted(map(parse_firmware, raws), key=sort_key)]
    assert got == ["2.460.0001.5.R", "2.800.0000000.4.R", "2.840.0000000.30.R"]


def test_range_is_inclusive_and_refuses_other_schemes() -> None:
    low, high = parse_firmware("V5.2.0 build 140721"), parse_firmware("V5.4.0 build 160530")
    assert in_range(parse_firmware("V5.4.0 build 160530"), low, high) is True
    assert in_range(parse_firmware("V5.4.0 build 160531"), low, high) is False
    assert in_range(parse_firmware("V5.1.9 build 200101"), low, high) is False
    assert in_range(parse_firmware("2.800.0000000.4.R"), low, high) is None


@given(st.text(max_size=400))
def test_any_string_parses_without_error(text: str) -> None:
    fw = parse_firmware(text)
    assert len(fw.raw) <= 200
    sort_key(fw)
