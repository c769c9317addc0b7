"""Operator credentials never leave the process in readable form.

A real CLI scan of the lab with the lab's ONVIF account (``admin`` /
``Lab-Pass-2024``) at ``CAMSWEEP_LOG_LEVEL=DEBUG`` (so zeep, aiohttp and
onvif-zeep-async log everything they log), on SQLite and PostgreSQL; then the
password is looked for in stdout/stderr, the JSON/CSV/XLSX exports, the bytes
of the SQLite files (database, WAL), every row of every PostgreSQL table, the
running scan's ``/proc/<pid>/cmdline``, and the messages and chained causes of
errors about broken credential files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from camsweep.lab import Lab, load_fleet
from camsweep.lab.fleet import DEFAULT_CREDENTIALS
from fingerprints.errors import ConfigError
from scanner.credentials import load_credentials
from tests.helpers import REPO_ROOT, run_cli

USER, PASSWORD = DEFAULT_CREDENTIALS
SECRET = PASSWORD.encode()


@pytest.fixture
def lab() -> Iterator[Lab]:
    fleet = load_fleet("mixed", network=f"127.177.{uuid.uuid4().int % 200 + 20}.0/24")
    with Lab(fleet) as running:
        yield running


def _creds_file(tmp_path: Path) -> Path:
    path = tmp_path / "onvif.yaml"
    path.write_text(f"username: {USER}\npassword: {PASSWORD}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CAMSWEEP_LOG_LEVEL": "DEBUG"}
    env.pop("CAMSWEEP_ONVIF_PASSWORD", None)
    return env


def _scan_watching_cmdline(db: str, lab: Lab, creds: Path) -> tuple[int, str, str, list[bytes]]:
    """Run the scan; sample its /proc/<pid>/cmdline and environ while it runs."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "camsweep", "scan", *lab.fleet.targets, "--db", db, "--site", "lab",
            "--credentials", str(creds), "--json", "--no-arp", "--no-wsd", "--no-mdns",
            "--connect-timeout", "1", "--read-timeout", "1",
        ],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    samples: list[bytes] = []
    while proc.poll() is None and len(samples) < 200:
        try:
            samples.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes())
            samples.append(Path(f"/proc/{proc.pid}/environ").read_bytes())
        except OSError:
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out.decode(), err.decode(), samples


def _exports(db: str, tmp_path: Path) -> list[bytes]:
    blobs = []
    for fmt in ("json", "csv", "xlsx"):
        dest = tmp_path / f"export.{fmt}"
        res = run_cli(
            "export", "--db", db, "--format", fmt, "-o", str(dest), env={"CAMSWEEP_LOG_LEVEL": "DEBUG"}
        )
        assert res.returncode == 0, res.stderr
        blobs += [res.stdout.encode(), res.stderr.encode(), dest.read_bytes()]
        if fmt == "xlsx":  # compressed: look inside every part
            with zipfile.ZipFile(dest) as z:
                blobs += [z.read(name) for name in z.namelist()]
    return blobs


def _check_scan(db: str, lab: Lab, tmp_path: Path) -> list[bytes]:
    code, out, err, samples = _scan_watching_cmdline(db, lab, _creds_file(tmp_path))
    assert code == 0, err
    assert samples, "the scan ended before its process could be inspected"
    assert "DEBUG" in err  # DEBUG logging really was on
    assert '"manufacturer": "Hikvision"' in out  # and the credentialed scan really ran
    return [out.encode(), err.encode(), *samples, *_exports(db, tmp_path)]


def test_sqlite_scan_keeps_the_password_out_of_everything(lab: Lab, tmp_path: Path) -> None:
    db_file = tmp_path / "secrets.db"
    blobs = _check_scan(f"sqlite:///{db_file}", lab, tmp_path)
    blobs += [p.read_bytes() for p in tmp_path.glob("secrets.db*")]  # database, WAL, shm
    for blob in blobs:
        assert SECRET not in blob


def test_postgresql_rows_never_hold_the_password(lab: Lab, tmp_path: Path, pg_url: str) -> None:
    blobs = _check_scan(pg_url, lab, tmp_path)
    for blob in blobs:
        assert SECRET not in blob
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            tables = [
                t
                for (t,) in conn.execute(
                    sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ]
            assert "observations" in tables
            for table in tables:
                hits = conn.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :p'), {"p": f"%{PASSWORD}%"}
                ).scalar()
                assert hits == 0, table
                # bytea columns render as hex in t::text: look for the hex too
                hex_hits = conn.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :p'),
                    {"p": f"%{SECRET.hex()}%"},
                ).scalar()
                assert hex_hits == 0, table
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "text",
    [
        f"username: u\npassword: [unclosed {PASSWORD}\n",
        f"username: u\npassword: {PASSWORD}\n  bad: indent\n",
        f"username: [u]\npassword: {PASSWORD}\n",
        f"- {PASSWORD}\n",
        f"sites:\n  hq: {PASSWORD}\n",
        f"username: u\npassword:\n  nested: {PASSWORD}\n",
        f"username: u\npassword: {PASSWORD}\n\xff".encode("latin-1").decode("latin-1"),
    ],
)
def test_credential_file_errors_never_carry_the_password(tmp_path: Path, text: str) -> None:
    path = tmp_path / "creds.yaml"
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(ConfigError) as info:
        load_credentials("hq", path)
    rendered = "".join(traceback.format_exception(info.value))  # message and every chained cause
    assert str(path) in str(info.value)
    assert PASSWORD not in rendered
    res = run_cli(
        "scan", "127.177.0.1", "--site", "hq", "--ports", "9", "--db", f"sqlite:///{tmp_path}/x.db",
        "--credentials", str(path),
    )  # fmt: skip
    assert res.returncode == 2 and str(path) in res.stderr and PASSWORD not in res.stdout + res.stderr


def test_no_option_takes_a_secret_on_the_command_line() -> None:
    # Secrets come from files or the environment; a password option would put the
    # secret in the process list and the shell history.
    commands = (
        ["scan"],
        ["schedule", "run"],
        ["config", "check"],
        ["audit", "verify"],
        ["import"],
        ["worker", "run"],
        ["worker", "submit"],
    )
    for command in commands:
        res = run_cli(*command, "--help", env={"COLUMNS": "200"})
        assert res.returncode == 0, res.stderr
        assert "--password" not in res.stdout and "--secret" not in res.stdout, command
