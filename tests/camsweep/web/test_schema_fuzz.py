"""Schemathesis against the API's own OpenAPI schema, over real HTTP.

Every operation is called with generated parameters and bodies (a bounded
number of Hypothesis examples each); responses must match the schema, never
be a server error, and keep to the documented status codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from camsweep.web.accounts import Accounts
from db.repository import Inventory
from tests.camsweep.web.conftest import LiveServer, _serve

schemathesis = pytest.importorskip("schemathesis")
positive_data_acceptance = pytest.importorskip("schemathesis.specs.openapi.checks").positive_data_acceptance

MAX_EXAMPLES_PER_OPERATION = 25
HTTP_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/web.db"
    for server in _serve(url):
        inv = Inventory(url)
        try:
            token = Accounts(inv).issue_token("ada", "schemathesis")
        finally:
            inv.close()
        yield server, token


@pytest.fixture(scope="module")
def api_schema(fuzz_server: tuple[LiveServer, str]) -> Any:
    server, token = fuzz_server
    raw = httpx.get(
        f"{server.url}/openapi.json", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT_S
    ).json()
    return schemathesis.openapi.from_dict(raw)


def test_the_api_keeps_to_its_schema(api_schema: Any, fuzz_server: tuple[LiveServer, str]) -> None:
    # Operations are walked here rather than with schemathesis' pytest plugin, whose
    # fixture integration does not run on this pytest (9.x) yet.
    server, token = fuzz_server
    labels = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        # A site's networks must be private space, which no JSON Schema string pattern can say:
        # a schema-valid public network is rightly refused (422, documented), so for this one
        # operation "valid data is accepted" is not a check; every other check still runs.
        excluded = [positive_data_acceptance] if operation.label == "PUT /api/sites/{name}" else []

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES_PER_OPERATION,
            deadline=None,  # no timing assertions: the machine is shared
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=HTTP_TIMEOUT_S,
                excluded_checks=excluded,  # noqa: B023 (call() runs within this iteration)
            )

        call()
    assert "GET /api/devices" in labels and "POST /api/devices/{device_id}/annotations" in labels
    assert "PUT /api/sites/{name}" in labels
