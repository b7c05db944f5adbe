"""Fixtures for the officer application: a migrated SQLite file with a two-region world, and an app on it."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.web.app import create_app

from .world import World, build_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    """Migrate and populate one SQLite file per run; each test module works on its own copy."""
    path: Path = tmp_path_factory.mktemp("web-template") / "kuzet.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    world = build_world(session_factory(engine))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, world


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory, world_template: tuple[Path, World]
             ) -> Iterator[tuple[str, sessionmaker[Session], World]]:
    template, world = world_template
    path: Path = tmp_path_factory.mktemp("web") / "kuzet.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    factory = session_factory(engine)
    yield url, factory, world
    engine.dispose()


@pytest.fixture(scope="module")
def app(world_db: tuple[str, sessionmaker[Session], World]) -> FastAPI:
    url, _, _ = world_db
    return create_app(Settings(database_url=url, secret_key="test-secret-key-0123456789"))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def world(world_db: tuple[str, sessionmaker[Session], World]) -> World:
    return world_db[2]


@pytest.fixture(scope="module")
def factory(world_db: tuple[str, sessionmaker[Session], World]) -> sessionmaker[Session]:
    return world_db[1]
