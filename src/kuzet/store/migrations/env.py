"""Alembic environment: the URL comes from the config (set by kuzet.store.migrate), models from kuzet."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import pool

from kuzet.store import partitions
from kuzet.store.db import make_engine
from kuzet.store.registry import metadata

config = context.config


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out of the comparison what the PostgreSQL partitioning of ``device_reports`` makes by design."""
    return not partitions.managed_by_partitioning(obj, name, type_)


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    connectable = make_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object if connection.dialect.name == "postgresql" else None,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
