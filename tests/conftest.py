"""Shared fixtures: inventory URLs for both backends, the loopback lab."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from camsweep.lab import Lab, load_fleet

#: Admin URL of the PostgreSQL server the suite creates throwaway databases on.
PG_ADMIN_URL = os.environ.get("CAMSWEEP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards.

    CI always has the server (.ci/run starts it); on a laptop without one the
    test is skipped and says why.  Set CAMSWEEP_REQUIRE_PG=1 to make that an error.
    """
    reason = _pg_available()
    if reason:
        if os.environ.get("CAMSWEEP_REQUIRE_PG") or os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import sqlalchemy as sa

    name = f"camsweep_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/inventory.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def demo_lab() -> Iterator[Lab]:
    """The demo fleet, listening on loopback for the duration of one test."""
    fleet = load_fleet("demo", network=f"127.78.{uuid.uuid4().int % 200 + 1}.0/24")
    with Lab(fleet) as lab:
        yield lab


@pytest.fixture
def mini_lab() -> Iterator[Lab]:
    """The mini fleet (two Hikvision cameras, an nginx decoy): exact counts for quick tests."""
    fleet = load_fleet("mini", network=f"127.79.{uuid.uuid4().int % 200 + 1}.0/29")
    with Lab(fleet) as lab:
        yield lab


@pytest.fixture
def hostile_lab() -> Iterator[Lab]:
    """The hostile fleet (drip, endless headers, 50 MB body, XML bomb, ...) on loopback for one test."""
    fleet = load_fleet("hostile", network=f"127.87.{uuid.uuid4().int % 200 + 1}.0/24")
    with Lab(fleet) as lab:
        yield lab


@pytest.fixture
def netns_lab() -> Iterator[Lab]:
    """The mixed fleet in network namespaces (own MACs, multicast, mDNS); skipped without root.

    Scan from ``lab.segment.scanner`` (``lab.segment.run(lab.segment.scanner, argv)``).
    """
    from camsweep.lab.netns import netns_available

    reason = netns_available()
    if reason:
        pytest.skip(reason)
    n = uuid.uuid4().int % 200 + 20
    fleet = load_fleet("mixed", mode="netns", network=f"10.80.{n}.0/24")
    with Lab(fleet, segment_prefix=f"cslab-{os.getpid()}-{n}") as lab:
        yield lab


@pytest.fixture
def zeep_posts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Addresses the onvif-zeep-async client posts SOAP to during the test: a spy wrapping the
    library's real transport (the request still goes out), so a test can tell which path ran."""
    from onvif.zeep_aiohttp import AIOHTTPTransport

    posts: list[str] = []
    original = AIOHTTPTransport.post_xml

    async def spy(self: AIOHTTPTransport, address: str, envelope: object, headers: dict[str, str]) -> object:
        posts.append(address)
        return await original(self, address, envelope, headers)  # type: ignore[arg-type]

    monkeypatch.setattr(AIOHTTPTransport, "post_xml", spy)
    return posts
