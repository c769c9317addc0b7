"""Alembic environment: the inventory's models, with batch mode so SQLite can alter tables.

``Inventory`` runs ``upgrade head`` with an open connection in
``config.attributes["connection"]``; the ``alembic`` command line (``-c
db/alembic.ini``) connects to ``$CAMSWEEP_DB`` or the ini's URL instead.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table (alembic docs, "batch").
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("CAMSWEEP_DB") or config.get_main_option("sqlalchemy.url") or "sqlite:///camsweep.db"
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
