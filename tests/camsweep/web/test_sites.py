"""Site configuration from the dashboard and the API, over real HTTP (a live uvicorn server).

Storage-touching tests run on both backends; access rules on SQLite only (lean suite).
"""

from __future__ import annotations

import time

import pytest

from tests.camsweep.web.conftest import LiveServer
from tests.camsweep.web.test_api import SCAN_DONE_TIMEOUT_S, audit, client, csrf_of, login, token_for


def test_an_admin_configures_a_site_from_the_page_and_everyone_reads_it(live_server: LiveServer) -> None:
    with login(live_server, "ada") as c:
        page = c.get("/sites")
        assert page.status_code == 200 and 'action="/sites"' in page.text
        r = c.post(
            "/sites",
            data={
                "name": "depot",
                "networks": "10.40.0.9/24, 10.41.0.0/24",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert r.status_code == 303, r.text
        # Replace, not append.
        r = c.post(
            "/sites", data={"name": "depot", "networks": "10.42.0.0/24", "csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303, r.text
        assert "10.42.0.0/24" in c.get("/sites").text
    with login(live_server, "audrey") as c:
        page = c.get("/sites")
        assert page.status_code == 200
        assert "depot" in page.text and "10.42.0.0/24" in page.text and "10.40.0.0/24" not in page.text
        assert 'action="/sites"' not in page.text  # no form for a role that may not configure
        sites = {s["name"]: s["networks"] for s in c.get("/api/sites").json()}
        assert sites["depot"] == ["10.42.0.0/24"]
        assert "hq" in sites  # the seeded scan's site, no networks declared
    assert [(e["actor"], e["site"], e["networks"]) for e in audit(live_server, "site.configure")] == [
        ("ada", "depot", ["10.40.0.0/24", "10.41.0.0/24"]),
        ("ada", "depot", ["10.42.0.0/24"]),
    ]


@pytest.mark.parametrize("name", ["olivia", "audrey"])
def test_only_an_admin_may_configure_a_site(sqlite_server: LiveServer, name: str) -> None:
    with login(sqlite_server, name) as c:
        token = csrf_of(c.get("/sites").text)
        r = c.post("/sites", data={"name": "x", "networks": "10.9.0.0/24", "csrf_token": token})
        assert r.status_code == 403
    with client(sqlite_server) as c:
        r = c.put(
            "/api/sites/x",
            json={"networks": ["10.9.0.0/24"]},
            headers={"Authorization": f"Bearer {token_for(sqlite_server, name)}"},
        )
        assert r.status_code == 403
        assert "x" not in [
            s["name"]
            for s in c.get(
                "/api/sites", headers={"Authorization": f"Bearer {token_for(sqlite_server, name)}"}
            ).json()
        ]
    assert audit(sqlite_server, "site.configure") == []


def test_a_forged_post_without_the_csrf_token_is_refused(sqlite_server: LiveServer) -> None:
    with login(sqlite_server, "ada") as c:
        r = c.post("/sites", data={"name": "evil", "networks": "10.66.0.0/16"})
        assert r.status_code == 403
        # The session alone does not authorise an API write either: the CSRF header is needed.
        r = c.put("/api/sites/evil", json={"networks": ["10.66.0.0/16"]})
        assert r.status_code == 403
        assert "evil" not in [s["name"] for s in c.get("/api/sites").json()]
    assert audit(sqlite_server, "site.configure") == []


def test_public_space_is_refused_with_a_clear_message(live_server: LiveServer) -> None:
    with login(live_server, "ada") as c:
        token = csrf_of(c.get("/sites").text)
        r = c.post(
            "/sites", data={"name": "dmz", "networks": "10.1.0.0/24 81.2.69.0/24", "csrf_token": token}
        )
        assert r.status_code == 422
        assert "81.2.69.0/24" in r.text and "public address space" in r.text
        r = c.put(
            "/api/sites/dmz",
            json={"networks": ["81.2.69.0/24"]},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 422
        assert "public address space" in r.json()["detail"][0]["msg"]
        r = c.put("/api/sites/dmz", json={"networks": ["not-a-net"]}, headers={"X-CSRF-Token": token})
        assert r.status_code == 422 and "'not-a-net' is not a network" in r.text
        assert "dmz" not in [s["name"] for s in c.get("/api/sites").json()]


def test_a_scan_of_a_configured_site_refuses_targets_outside_its_networks(sqlite_server: LiveServer) -> None:
    with client(sqlite_server) as c:
        r = c.put(
            "/api/sites/lab",
            json={"networks": ["127.181.7.0/24"]},
            headers={"Authorization": f"Bearer {token_for(sqlite_server, 'ada')}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["networks"] == ["127.181.7.0/24"] and r.json()["created_at"].endswith("Z")
    with login(sqlite_server, "ada") as c:
        page = c.get("/scans")
        assert '<option value="lab">' in page.text  # the configured site is offered
        before = len(c.get("/api/scans").json())
        r = c.post("/scans", data={"targets": "127.182.0.1", "site": "lab", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 422
        assert "outside the networks of site &#39;lab&#39;" in r.text and "127.181.7.0/24" in r.text
        assert len(c.get("/api/scans").json()) == before  # refused before anything was recorded
        # Inside the site's networks (our own loopback block, nothing listens): accepted and run.
        r = c.post("/scans", data={"targets": "127.181.7.1", "site": "lab", "csrf_token": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        deadline = time.monotonic() + SCAN_DONE_TIMEOUT_S
        while True:
            lab = [s for s in c.get("/api/scans").json() if s["site"] == "lab"]
            if lab and lab[0]["status"] != "running":
                break
            assert time.monotonic() < deadline, "the scan of the configured site did not finish"
            time.sleep(0.2)
        assert lab[0]["targets"] == ["127.181.7.1"] and lab[0]["status"] == "completed"


def test_the_openapi_schema_documents_the_sites_api(sqlite_server: LiveServer) -> None:
    with login(sqlite_server, "audrey") as c:
        paths = c.get("/openapi.json").json()["paths"]
    assert "get" in paths["/api/sites"] and "put" in paths["/api/sites/{name}"]
    assert "requestBody" in paths["/api/sites/{name}"]["put"]
