"""Exports on both backends: filters, a real XLSX read back, formula neutralising, audit records."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsweep.exports import (
    TABLE_FIELDS,
    DeviceQuery,
    export_devices,
    neutralise_cell,
    select_devices,
    to_csv,
    to_xlsx,
)
from db.repository import DeviceRecord, Inventory
from fingerprints.errors import ConfigError
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status
from tests.helpers import run_cli

HYPERLINK = '=HYPERLINK("http://x","y")'


def _report(ip: str, mac: str) -> HostReport:
    obs = Observation(
        "http", ip, 80, Status.SUCCESS, [Evidence("http.server", "x", "http:80")], b"HTTP/1.1 200"
    )
    return HostReport(ip, [obs], mac=mac)


def _fill(db_url: str) -> None:
    """Five devices at two sites: Hikvision-made under two brands, Dahua-made, Axis, a printer."""
    inv = Inventory(db_url)
    rows = [
        ("hq", "10.0.0.5", "Hikvision", "Hikvision", HYPERLINK, "V5.7.3", ("NDAA-889",), True),
        ("hq", "10.0.0.6", "LTS", "Hikvision", "CMIP3042", "V5.5.0", ("NDAA-889",), True),
        ("depot", "10.1.0.7", "Lorex", "Dahua", "LNB8005", "2.800.0000000.16.R", ("NDAA-889",), True),
        ("depot", "10.1.0.8", "Axis", "Axis", "+M3045", "10.12.1", (), True),
        ("depot", "10.1.0.9", None, None, "@LaserJet", "[/red]", (), False),
    ]
    for n, (site, ip, brand, maker, model, fw, flags, cam) in enumerate(rows):
        scan = inv.begin_scan([ip], site=site)
        ident = Identification(
            is_camera=cam,
            brand=brand,
            manufacturer=maker,
            model=model,
            firmware=fw,
            category="camera" if cam else None,
            policy_flags=flags,
            confidence=0.9,
        )
        inv.record_host(scan, _report(ip, f"02:00:00:00:00:{n:02x}"), ident)
        inv.finish_scan(scan)
    inv.close()


def test_multi_value_filter_and_flagged(db_url: str) -> None:
    _fill(db_url)
    inv = Inventory(db_url)
    try:
        made = select_devices(inv, DeviceQuery.from_options(manufacturer="hikvision,Dahua"))
        assert [d.ip for d in made] == ["10.0.0.5", "10.0.0.6", "10.1.0.7"]
        both = select_devices(inv, DeviceQuery.from_options(manufacturer=["Hikvision"], site="depot,hq"))
        assert {d.brand for d in both} == {"Hikvision", "LTS"}
        assert [d.ip for d in select_devices(inv, DeviceQuery(flagged_only=True, site=("depot",)))] == [
            "10.1.0.7"
        ]
        assert [d.ip for d in select_devices(inv, DeviceQuery.from_options(firmware="V5."))] == [
            "10.0.0.5",
            "10.0.0.6",
        ]
        with pytest.raises(ConfigError, match="no device filter"):
            DeviceQuery.from_options(colour="red")
    finally:
        inv.close()


def test_xlsx_has_summary_flagged_first_and_no_formulas(db_url: str, tmp_path: Path) -> None:
    _fill(db_url)
    out = tmp_path / "inventory.xlsx"
    r = run_cli("export", "--db", db_url, "--format", "xlsx", "-o", str(out), "--actor", "officer.jones")
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Devices"]
    devices = wb["Devices"]
    header = [c.value for c in devices[1]]
    assert header == list(TABLE_FIELDS)
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in devices.iter_rows(min_row=2)]
    assert len(rows) == 5
    # flagged devices first, then the rest
    assert [bool(r["policy_flags"]) for r in rows] == [True, True, True, False, False]
    # the reader's aids: frozen header, a filter over every row, flagged rows shaded
    assert devices.freeze_panes == "A2"
    assert devices.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(TABLE_FIELDS))}6"
    assert devices["A2"].fill.start_color.rgb == "FFF4CCCC" and devices["A5"].fill.fill_type is None
    # every cell that could be a formula came out as text
    for row in devices.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    by_ip = {r["ip"]: r for r in rows}
    assert by_ip["10.0.0.5"]["model"] == "'" + HYPERLINK
    assert by_ip["10.1.0.8"]["model"] == "'+M3045" and by_ip["10.1.0.9"]["model"] == "'@LaserJet"
    assert by_ip["10.0.0.6"]["firmware"] == "V5.5.0" and by_ip["10.0.0.6"]["connectivity"] == "networked"

    summary = wb["Summary"]
    values = [[c.value for c in row] for row in summary.iter_rows()]
    start = next(
        i
        for i, v in enumerate(values)
        if v[:5] == ["manufacturer", "category", "connectivity", "devices", "flagged"]
    )
    counts = []
    for v in values[start + 1 :]:
        if v[0] is None:
            break
        counts.append(tuple(v[:5]))
    assert counts[0] == ("Hikvision", "camera", "networked", 2, 2)  # most flagged first
    assert set(counts) == {
        ("Hikvision", "camera", "networked", 2, 2),
        ("Dahua", "camera", "networked", 1, 1),
        ("Axis", "camera", "networked", 1, 0),
        ("(unknown)", "(unknown)", "networked", 1, 0),
    }
    assert counts[-1][4] == 0 and counts[1][4] == 1
    assert ["devices", 5] in [v[:2] for v in values] and ["flagged devices", 3] in [v[:2] for v in values]

    inv = Inventory(db_url)
    [entry] = inv.actions("export")
    inv.close()
    assert entry.actor == "officer.jones"
    assert entry.detail["format"] == "xlsx" and entry.detail["rows"] == 5 and entry.detail["filter"] == {}


def test_csv_and_json_take_the_same_filter_and_are_recorded(db_url: str, tmp_path: Path) -> None:
    _fill(db_url)
    r = run_cli(
        "export", "--db", db_url, "--format", "csv", "--manufacturer", "Hikvision,Dahua", "--actor", "a"
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["ip"] for row in rows] == ["10.0.0.5", "10.0.0.6", "10.1.0.7"]
    assert rows[0]["model"] == "'" + HYPERLINK and rows[0]["policy_flags"] == "NDAA-889"
    r = run_cli("export", "--db", db_url, "--format", "json", "--site", "depot", "--cameras", "--actor", "b")
    assert [d["ip"] for d in json.loads(r.stdout)] == ["10.1.0.7", "10.1.0.8"]
    inv = Inventory(db_url)
    entries = inv.actions("export")
    inv.close()
    assert [(e.actor, e.detail["format"], e.detail["rows"]) for e in entries] == [
        ("a", "csv", 3),
        ("b", "json", 2),
    ]
    assert entries[0].detail["filter"] == {"manufacturer": "Hikvision,Dahua"}
    assert entries[1].detail["filter"] == {"site": "depot", "cameras_only": "yes"}


def test_devices_filters_and_fail_on(db_url: str) -> None:
    _fill(db_url)
    r = run_cli("devices", "--db", db_url, "--brand", "LTS,Lorex", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(x)["brand"] for x in r.stdout.splitlines()) == ["LTS", "Lorex"]
    r = run_cli("devices", "--db", db_url, "--policy-flag", "ndaa-889", "--fail-on", "policy", "--json")
    assert r.returncode == 1 and "3 device(s)" in r.stderr
    r = run_cli("devices", "--db", db_url, "--site", "depot", "--manufacturer", "Axis", "--fail-on", "policy")
    assert r.returncode == 0, r.stderr
    r = run_cli("devices", "--db", db_url, "--since", "yesterday")
    assert r.returncode == 2 and "--since" in r.stderr
    r = run_cli("devices", "--db", db_url, "--since", "1d", "--json")
    assert len(r.stdout.splitlines()) == 5
    # the table for people: a device's "[/red]" firmware prints as text instead of breaking the markup
    r = run_cli("devices", "--db", db_url, "--site", "depot", env={"COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    assert "[/red]" in r.stdout and "LNB8005" in r.stdout and "networked" in r.stdout


def test_devices_and_export_offer_every_filter_of_a_device_query() -> None:
    # both commands take their filters from one declaration (cli._with_device_query)
    options = ["--site", "--brand", "--manufacturer", "--model", "--category", "--connectivity"]
    options += ["--firmware", "--policy-flag", "--advisory", "--since", "--cameras", "--flagged"]
    for command in ("devices", "export"):
        r = run_cli(command, "--help", env={"COLUMNS": "250"})
        assert r.returncode == 0, r.stderr
        listed = [o for o in re.findall(r"(--[a-z-]+)", r.stdout) if o in options]
        assert listed == options, (command, listed)


def test_export_direct_records_destination(db_url: str) -> None:
    _fill(db_url)
    inv = Inventory(db_url)
    try:
        data, rows = export_devices(inv, "json", DeviceQuery(site=("hq",)), actor="api", destination="x.json")
        assert rows == 2 and len(json.loads(data)) == 2
        with pytest.raises(ConfigError, match="not an export format"):
            export_devices(inv, "pdf")
        [entry] = inv.actions("export")
        assert entry.detail["destination"] == "x.json"
    finally:
        inv.close()


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_cell(text: str) -> None:
    assert neutralise_cell(text) == "'" + text
    assert neutralise_cell("V5.7.3") == "V5.7.3"


def _record(model: str) -> DeviceRecord:
    return DeviceRecord(
        id=1,
        ip="10.0.0.1",
        mac=None,
        brand=model,
        manufacturer="Hikvision",
        model=model,
        firmware=model,
        category="camera",
        connectivity="networked",
        policy_flags=[model],
        confidence=0.5,
        site="hq",
        first_seen=None,
        last_seen=None,
    )


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_any_device_string_exports_as_inert_text(model: str) -> None:
    """Whatever a device calls itself, no CSV or XLSX cell can be read as a formula, and export never fails."""
    rows = list(csv.reader(io.StringIO(to_csv([_record(model)]), newline="")))
    assert len(rows) == 2  # a CR or LF in a field never starts a row of its own
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx([_record(model)])))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f"
                assert not (isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@")))
