"""The dashboard over real HTTP (httpx against a real uvicorn server).

What touches storage (logins, annotations, exports, filters) runs on SQLite and
PostgreSQL; access rules run on SQLite only, to keep the suite lean.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from camsweep.exports import to_json
from camsweep.lab import Lab
from camsweep.web.accounts import Accounts
from db.repository import DeviceFilter, Inventory
from tests.camsweep.web.conftest import PASSWORDS, LiveServer

HTTP_TIMEOUT_S = 30.0


def client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


@contextmanager
def login(server: LiveServer, name: str) -> Iterator[httpx.Client]:
    with client(server) as c:
        form = c.get("/login")
        r = c.post(
            "/login", data={"username": name, "password": PASSWORDS[name], "csrf_token": csrf_of(form.text)}
        )
        assert r.status_code == 303, r.text
        yield c


def token_for(server: LiveServer, name: str) -> str:
    inv = Inventory(server.db_url)
    try:
        return Accounts(inv).issue_token(name, "test")
    finally:
        inv.close()


def audit(server: LiveServer, action: str) -> list[dict[str, object]]:
    inv = Inventory(server.db_url)
    try:
        return [{"actor": a.actor, **a.detail} for a in inv.actions(action)]
    finally:
        inv.close()


def test_a_stranger_sees_nothing(sqlite_server: LiveServer) -> None:
    with client(sqlite_server) as c:
        for path in (
            "/",
            f"/devices/{sqlite_server.ids['amcrest']}",
            "/scans",
            "/charts",
            "/audit",
            "/export",
        ):
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=")
            assert "10.20.0" not in r.text
        for path in ("/api/devices", "/api/scans", "/api/audit-log", "/openapi.json"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/api/devices", headers={"Authorization": "Bearer cst_forged"}).status_code == 401


def test_login_sets_a_strict_httponly_session_and_every_attempt_is_audited(live_server: LiveServer) -> None:
    with client(live_server) as c:
        form = c.get("/login")
        token = csrf_of(form.text)
        bad = c.post("/login", data={"username": "olivia", "password": "wrong-password", "csrf_token": token})
        assert bad.status_code == 401
        nul = c.post(
            "/login", data={"username": "oli\x00via", "password": "x", "csrf_token": csrf_of(bad.text)}
        )
        assert nul.status_code == 401
        assert "Wrong user name or password" in bad.text
        form = c.get("/login")
        good = c.post(
            "/login",
            data={"username": "olivia", "password": PASSWORDS["olivia"], "csrf_token": csrf_of(form.text)},
        )
        assert good.status_code == 303
        cookie = good.headers["set-cookie"].lower()
        assert "camsweep_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "10.20.0.21" in c.get("/").text
    outcomes = [(e["actor"], e["outcome"]) for e in audit(live_server, "login")]
    assert outcomes == [("olivia", "failure"), ("oli\ufffdvia", "failure"), ("olivia", "success")]


def test_login_without_its_csrf_token_is_refused(sqlite_server: LiveServer) -> None:
    with client(sqlite_server) as c:
        c.get("/login")
        r = c.post("/login", data={"username": "olivia", "password": PASSWORDS["olivia"]})
        assert r.status_code == 403
        assert "camsweep_session" not in r.headers.get("set-cookie", "")


def test_api_devices_is_the_json_export_with_the_same_filters(live_server: LiveServer) -> None:
    token = token_for(live_server, "audrey")
    with client(live_server) as c:
        auth = {"Authorization": f"Bearer {token}"}
        everything = c.get("/api/devices", headers=auth)
        assert everything.status_code == 200
        dahua = c.get("/api/devices", params={"manufacturer": "dahua"}, headers=auth).json()
        flagged = c.get("/api/devices", params={"policy_flag": "ndaa-889"}, headers=auth).json()
        bad = c.get("/api/devices", params={"seen_since": "yesterday"}, headers=auth)
    inv = Inventory(live_server.db_url)
    try:
        assert everything.json() == json.loads(to_json(inv.devices()))
        assert dahua == json.loads(to_json(inv.devices(DeviceFilter(manufacturer="Dahua"))))
    finally:
        inv.close()
    assert [d["brand"] for d in dahua] == ["Amcrest"]
    # NDAA section 889 names Hikvision and Dahua: the two Hikvision cameras and the Dahua-made Amcrest.
    assert sorted(d["ip"] for d in flagged) == ["10.20.0.11", "10.20.0.12", "10.20.0.21"]
    assert bad.status_code == 422 and "seen_since" in bad.text


def test_openapi_schema_documents_the_api_and_its_bearer_auth(sqlite_server: LiveServer) -> None:
    token = token_for(sqlite_server, "audrey")
    with client(sqlite_server) as c:
        schema = c.get("/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    op = schema["paths"]["/api/devices"]["get"]
    params = {p["name"] for p in op["parameters"]}
    assert {"manufacturer", "brand", "site", "policy_flag", "connectivity", "seen_since"} <= params
    assert {"HTTPBearer": []} in op["security"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    device_out = schema["components"]["schemas"]["DeviceOut"]
    from camsweep.exports import TABLE_FIELDS

    # generated from DeviceRecord over the export's columns: every column, typed as the record types it
    assert set(device_out["properties"]) == set(device_out["required"]) == set(TABLE_FIELDS)
    assert device_out["properties"]["confidence"]["type"] == "number"
    assert device_out["properties"]["policy_flags"] == {
        "items": {"type": "string"},
        "title": "Policy Flags",
        "type": "array",
    }
    assert {"type": "null"} in device_out["properties"]["first_seen"]["anyOf"]
    assert not any(p in ("/login", "/", "/export") for p in schema["paths"])


def test_an_officer_annotates_and_it_is_stored_and_audited(live_server: LiveServer) -> None:
    device = live_server.ids["amcrest"]
    with login(live_server, "olivia") as c:
        page = c.get(f"/devices/{device}")
        assert "Dahua" in page.text and "Login to 9C0A2B3D4E5F" in page.text
        r = c.post(
            f"/devices/{device}/annotations",
            data={"text": "<script>alert(1)</script> replace by March", "csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 303
        page = c.get(f"/devices/{device}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; replace by March" in page.text
    assert "<script>alert(1)" not in page.text
    history = page.text.split('id="history"')[1]
    assert "olivia" in history and "annotate" in history  # the device's own audit-log entries
    with login(live_server, "olivia") as c:
        other = c.get(f"/devices/{live_server.ids['nginx']}").text.split('id="history"')[1]
    assert "Nothing recorded for this device yet." in other and "olivia" not in other
    entries = audit(live_server, "annotate")
    assert entries == [
        {
            "actor": "olivia",
            "device_id": device,
            "annotation_id": entries[0]["annotation_id"],
            "fields": {"note": "<script>alert(1)</script> replace by March"},
        }
    ]


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(sqlite_server: LiveServer) -> None:
    device = sqlite_server.ids["amcrest"]
    with login(sqlite_server, "olivia") as c:
        for data in ({"text": "forged"}, {"text": "forged", "csrf_token": "not-the-token"}):
            r = c.post(f"/devices/{device}/annotations", data=data)
            assert r.status_code == 403
            assert "CSRF" in r.text
        # The JSON API through a browser session needs the header too.
        r = c.post(f"/api/devices/{device}/annotations", json={"text": "forged"})
        assert r.status_code == 403
        assert "forged" not in c.get(f"/devices/{device}").text
    assert audit(sqlite_server, "annotate") == []


def test_an_auditor_cannot_annotate_even_with_a_valid_csrf_token(sqlite_server: LiveServer) -> None:
    device = sqlite_server.ids["amcrest"]
    with login(sqlite_server, "audrey") as c:
        page = c.get(f"/devices/{device}")
        assert page.status_code == 200
        assert "/annotations" not in page.text  # no annotate form for an auditor
        r = c.post(f"/devices/{device}/annotations", data={"text": "x", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 403
        assert c.get("/export", params={"format": "csv"}).status_code == 403
        assert c.get("/audit").status_code == 200
    token = token_for(sqlite_server, "audrey")
    with client(sqlite_server) as c:
        r = c.post(
            f"/api/devices/{device}/annotations",
            json={"text": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403
    assert audit(sqlite_server, "annotate") == []


def test_exports_download_every_format_and_are_audited(live_server: LiveServer) -> None:
    with login(live_server, "olivia") as c:
        r = c.get("/export", params={"format": "csv", "manufacturer": "Dahua"})
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [(row["brand"], row["manufacturer"]) for row in rows] == [("Amcrest", "Dahua")]
        r = c.get("/export", params={"format": "json"})
        assert {d["ip"] for d in r.json()} == {"10.20.0.11", "10.20.0.12", "10.20.0.21", "10.20.0.30"}
        assert c.get("/export", params={"format": "exe"}).status_code == 422
        assert c.get("/audit").status_code == 403  # officers act; auditors read the log
    token = token_for(live_server, "olivia")
    with client(live_server) as c:
        r = c.get("/api/export", params={"format": "csv"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.text.startswith("ip,mac,")
    logged = [(e["actor"], e["format"], e["devices"], e["via"]) for e in audit(live_server, "export")]
    assert logged == [("olivia", "csv", 1, "web"), ("olivia", "json", 4, "web"), ("olivia", "csv", 4, "api")]


def test_the_audit_log_is_readable_by_auditors_over_the_api(sqlite_server: LiveServer) -> None:
    with login(sqlite_server, "olivia"):
        pass
    token = token_for(sqlite_server, "audrey")
    with client(sqlite_server) as c:
        r = c.get("/api/audit-log", params={"action": "login"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert [(e["actor"], e["detail"]["outcome"]) for e in r.json()] == [("olivia", "success")]
        who = c.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).json()
        assert who["role"] == "auditor" and "annotate" not in who["permissions"]


@pytest.mark.parametrize("name", ["olivia", "audrey"])
def test_only_an_admin_may_start_a_scan(sqlite_server: LiveServer, name: str) -> None:
    with login(sqlite_server, name) as c:
        page = c.get("/scans")
        assert 'action="/scans"' not in page.text
        r = c.post("/scans", data={"targets": "127.0.0.1", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 403


def test_an_admin_scan_refuses_public_space_and_server_files(sqlite_server: LiveServer) -> None:
    with login(sqlite_server, "ada") as c:
        token = csrf_of(c.get("/scans").text)
        before = len(c.get("/api/scans").json())
        r = c.post("/scans", data={"targets": "8.8.8.0/24", "csrf_token": token})
        assert r.status_code == 422 and "public address space" in r.text
        r = c.post("/scans", data={"targets": "@/etc/passwd", "csrf_token": token})
        assert r.status_code == 422 and "command line" in r.text
        assert len(c.get("/api/scans").json()) == before


SCAN_DONE_TIMEOUT_S = 120.0


def test_an_admin_starts_a_scan_of_the_loopback_lab_from_the_web(
    sqlite_server: LiveServer, mini_lab: Lab
) -> None:
    targets = " ".join(mini_lab.fleet.targets)
    with login(sqlite_server, "ada") as c:
        r = c.post(
            "/scans", data={"targets": targets, "site": "lab", "csrf_token": csrf_of(c.get("/scans").text)}
        )
        assert r.status_code == 303
        deadline = time.monotonic() + SCAN_DONE_TIMEOUT_S
        while True:
            lab_scans = [s for s in c.get("/api/scans").json() if s["site"] == "lab"]
            if lab_scans and lab_scans[0]["status"] != "running":
                break
            assert time.monotonic() < deadline, "the scan started from the web did not finish"
            time.sleep(0.2)
        assert lab_scans[0]["status"] == "completed"
        found = c.get("/api/devices", params={"site": "lab", "manufacturer": "Hikvision"}).json()
        assert len(found) == 2
        assert "ada" in c.get("/audit", params={"action": "scan"}).text


def test_a_scan_page_compares_with_the_sites_previous_scan(sqlite_server: LiveServer) -> None:
    with Inventory(sqlite_server.db_url) as inv:
        [first] = inv.scans()
        elsewhere = inv.begin_scan(["10.30.0.0/24"], site="depot")
        inv.finish_scan(elsewhere)
        second = inv.begin_scan(["10.20.0.0/24"], site="hq")
        inv.finish_scan(second)
    with login(sqlite_server, "audrey") as c:
        assert "This is the first scan of site hq." in c.get(f"/scans/{first.id}").text
        page = c.get(f"/scans/{second}").text
        assert f'Compared with scan <a href="/scans/{first.id}">{first.id}</a>' in page
        assert "0 new, 4 gone, 0 changed" in page  # it saw none of the seeded devices in its range
        assert "This is the first scan of site depot." in c.get(f"/scans/{elsewhere}").text
        r = c.get("/scans/999999")
    assert r.status_code == 404 and "scan 999999 does not exist" in r.text
