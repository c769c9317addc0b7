"""Malformed operator files: a clear error naming file, line and field; nothing half-done.

Each case runs the real CLI against an inventory that already holds a scan, a
registered unit and audit entries.  Every table's row count is taken before and
after: a refused configuration, answer file or import (standalone CSV, our JSON
export, nmap XML) changes nothing, even when the bad row comes after good ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import run_cli

GOOD_ROWS = "".join(
    f"44:19:b6:00:01:{i:02x},,,hq,Hikvision,DS-2CD{i},fixed camera,V5.5.0,,,,\n" for i in range(40)
)
CSV_HEAD = (
    "mac,manufacturer,serial,site,brand,model,category,firmware,firmware_updated,location,owner,notes\n"
)
NMAP_HEAD = (
    '<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" version="7.93" start="1700000000">\n'
)
NMAP_HOST = (
    "<host><status state='up'/><address addr='10.9.0.{n}' addrtype='ipv4'/>\n"
    "<ports><port protocol='tcp' portid='{port}'><state state='open'/></port></ports></host>\n"
)
GOOD_JSON = ",\n".join(
    json.dumps({"ip": f"10.8.0.{i}", "site": "hq", "connectivity": "networked"}) for i in range(1, 30)
)

#: name -> (file name, contents, CLI arguments after the file, expected line, field, message)
CASES: dict[str, tuple[str, str, list[str], int, str, str]] = {
    "csv-bad-mac-after-good-rows": (
        "units.csv", CSV_HEAD + GOOD_ROWS + "nonsense-mac,,,hq,,,,,,,,\n",
        ["import", "{file}", "--format", "standalone-csv", "--db", "{db}"], 42, "mac", "is not a MAC address",
    ),
    "csv-bad-date": (
        "units.csv", CSV_HEAD + GOOD_ROWS[:200].rsplit("\n", 1)[0] + "\n44:19:b6:00:02:01,,,hq,,,,,31/12/2021,,,\n",
        ["import", "{file}", "--format", "standalone-csv", "--db", "{db}"], 0, "firmware_updated", "is not a date",
    ),
    "csv-unknown-column": (
        "units.csv", "mac,colour\n44:19:b6:00:02:02,red\n",
        ["import", "{file}", "--format", "standalone-csv", "--db", "{db}"], 1, "colour", "unknown column",
    ),
    "json-bad-confidence-last": (
        "export.json", "[\n" + GOOD_JSON + ',\n{"ip": "10.8.0.99", "site": "hq", "connectivity": "networked", "confidence": 7}\n]\n',
        ["import", "{file}", "--format", "json", "--db", "{db}"], 31, "confidence", "not a number from 0 to 1",
    ),
    "json-bad-connectivity": (
        "export.json", '[{"ip": "10.8.0.1", "site": "hq", "connectivity": "wifi"}]\n',
        ["import", "{file}", "--format", "json", "--db", "{db}"], 1, "connectivity", "is not one of",
    ),
    "json-syntax": (
        "export.json", '[\n{"ip": "10.8.0.1",\n "site": hq}\n]\n',
        ["import", "{file}", "--format", "json", "--db", "{db}"], 3, "", "not JSON",
    ),
    "nmap-bad-port-after-good-hosts": (
        "scan.xml", NMAP_HEAD + "".join(NMAP_HOST.format(n=n, port=80) for n in range(1, 20))
        + NMAP_HOST.format(n=99, port=70000) + "</nmaprun>\n",
        ["import", "{file}", "--format", "nmap-xml", "--site", "hq", "--db", "{db}"], 43, "portid", "outside 1-65535",
    ),
    "nmap-bad-address": (
        "scan.xml", NMAP_HEAD + "<host><status state='up'/>\n<address addr='10.9.0.300' addrtype='ipv4'/></host>\n</nmaprun>\n",
        ["import", "{file}", "--format", "nmap-xml", "--db", "{db}"], 4, "address", "is not an IP address",
    ),
    "nmap-truncated": (
        "scan.xml", NMAP_HEAD + "<host><status state='up'/>\n",
        ["import", "{file}", "--format", "nmap-xml", "--db", "{db}"], 0, "", "not well-formed XML",
    ),
    "config-bad-network": (
        "camsweep.toml", '[sites.hq]\nnetworks = ["10.20.0.0/24", "10.20.8.0/2x"]\n',
        ["config", "check", "--config", "{file}"], 2, "sites.hq.networks[1]", "is not a network",
    ),
    "config-toml-syntax": (
        "camsweep.toml", '[sites.hq]\nnetworks = ["10.20.0.0/24"\n',
        ["config", "check", "--config", "{file}"], 2, "", "not valid TOML",
    ),
    "scan-with-bad-config": (
        "camsweep.toml", '[sites.hq]\nnetworks = ["127.176.9.0/30"]\nrate_pps = "fast"\n',
        ["scan", "--site", "hq", "--config", "{file}", "--db", "{db}"], 3, "sites.hq.rate_pps", "",
    ),
    "answers-bad-count": (
        "answers.yaml", "force: F\ntechnologies:\n  anpr:\n    in_use: true\n    count: lots\n",
        ["audit", "verify", "{file}", "--db", "{db}"], 5, "count", "",
    ),
    "answers-yaml-syntax": (
        "answers.yaml", "force: F\ntechnologies:\n  anpr: [unclosed\n",
        ["audit", "verify", "{file}", "--db", "{db}"], 0, "", "not valid YAML",
    ),
}  # fmt: skip


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An inventory with a scan, imported devices and a registered unit (copied per test)."""
    base = tmp_path_factory.mktemp("seeded")
    db = f"sqlite:///{base}/inv.db"
    units = base / "units.csv"
    units.write_text(CSV_HEAD + GOOD_ROWS[:300].rsplit("\n", 1)[0] + "\n", encoding="utf-8")
    assert run_cli("import", str(units), "--format", "standalone-csv", "--db", db).returncode == 0
    assert run_cli("scan", "127.176.9.1", "--ports", "9", "--db", db, "--progress", "none").returncode == 0
    return base / "inv.db"


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_is_named_and_changes_nothing(case: str, seeded: Path, tmp_path: Path) -> None:
    filename, text, command, line, field, message = CASES[case]
    db_file = tmp_path / "inv.db"
    db_file.write_bytes(seeded.read_bytes())
    url = f"sqlite:///{db_file}"
    before = _counts(url)
    assert before["devices"] > 0 and before["scans"] > 0
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    args = [a.format(file=path, db=url) for a in command]
    res = run_cli(*args, env={"COLUMNS": "1000"})  # no wrapping: the message is matched whole
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    where = f"{path}:{line}:" if line else f"{path}"
    assert where in res.stderr, res.stderr
    if line == 0:  # the parser reports a line of its own: it must still be FILE:LINE
        assert re.search(re.escape(str(path)) + r":\d+:", res.stderr), res.stderr
    if field:
        assert field in res.stderr, res.stderr
    assert message in res.stderr, res.stderr
    assert _counts(url) == before  # nothing half-imported, no scan begun, no audit entry
