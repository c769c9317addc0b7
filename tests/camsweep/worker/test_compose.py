"""docker-compose.yml against the Compose specification, and the deployment's own rules.

There is no container engine on these machines, so the file is validated with
check-jsonschema's vendored copy of the Compose specification schema (offline).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
VALIDATE_TIMEOUT_S = 120.0


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which(
        "check-jsonschema"
    )
    if exe is None:
        pytest.fail("check-jsonschema is not installed (it is in the dev extra)")
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=VALIDATE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _services() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    services: dict[str, Any] = doc["services"]
    return services


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = _validate(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    # Proof the check can fail: cap_add must be a list, not a string.
    broken = COMPOSE_FILE.read_text(encoding="utf-8").replace(
        "cap_add: [NET_RAW, NET_ADMIN]", "cap_add: {raw: true}"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken, encoding="utf-8")
    result = _validate(path)
    assert result.returncode != 0
    assert "cap_add" in result.stdout + result.stderr


def test_the_deployment_has_its_parts_and_one_privileged_worker_per_site() -> None:
    services = _services()  # PyYAML resolves the x-camsweep/x-worker anchors
    assert {"postgres", "redis", "web", "beat"} <= set(services)
    workers = {name: svc for name, svc in services.items() if name.startswith("worker-")}
    assert len(workers) >= 2
    sites = []
    for name, svc in workers.items():
        command = svc["command"]
        assert command[:2] == ["worker", "run"], name
        site = command[command.index("--site") + 1]
        assert name == f"worker-{site}"
        sites.append(site)
        assert svc["network_mode"] == "host", name
        assert set(svc["cap_add"]) == {"NET_RAW", "NET_ADMIN"}, name
        assert re.match(r"^postgresql\+psycopg://", svc["environment"]["CAMSWEEP_DB"])
        assert svc["environment"]["CAMSWEEP_BROKER_URL"].startswith("redis://")
    assert len(set(sites)) == len(sites), "one worker service per site"
    # Only the scanners get raw-packet capabilities.
    for name in ("postgres", "redis", "web", "beat"):
        assert "cap_add" not in services[name], name
    assert services["beat"]["command"][:2] == ["worker", "beat"]
    assert services["web"]["command"][0] == "serve"
    assert (REPO_ROOT / "Dockerfile").is_file()
