"""The schema comes from Alembic, and the models agree with it on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.models import Base
from db.repository import SCHEMA_HEAD, Inventory, alembic_config
from fingerprints.errors import StorageError


def test_opening_upgrades_to_head_and_models_match_migrations(db_url: str) -> None:
    Inventory(db_url).close()
    Inventory(db_url).close()  # a second open finds it at head and changes nothing
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == SCHEMA_HEAD  # bump SCHEMA_HEAD with every new revision
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == head
        assert compare_metadata(ctx, Base.metadata) == []
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"sites", "scans", "observations", "devices", "sightings", "events", "audit_log"} <= tables


def test_a_database_made_without_migrations_is_refused_with_advice(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(StorageError, match="without migrations.*import it"):
        Inventory(url)
